"""The effective-dated reference data behind section T, kept as data (``dipflow_custody/data``).

The offence date decides whether an offence is a trigger offence (CJCSA 2000 Sch 6); the date decides which
drugs are specified drugs (T14). Dates in the data are inclusive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class OffenceType:
    code: str
    statute: str
    section: str
    title: str
    needs_drug: bool = False
    arrest_power: bool = False
    """A ground of arrest that is not an offence (BA76 s.7(3)): no test under s.63B can follow from it."""

    @property
    def label(self) -> str:
        return f"{self.statute} {self.section} ({self.title})"


@dataclass(frozen=True)
class TriggerRow:
    code: str
    attempt: bool
    valid_from: date
    valid_to: date | None
    specified_class_a_drug_only: bool = False

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class SpecifiedDrugRow:
    drugs: frozenset[str] | None  # None: every drug of the class
    drug_class: str
    valid_from: date
    valid_to: date | None

    def covers(self, drug: str, drug_class: str | None, on: date) -> bool:
        if not (self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)):
            return False
        if self.drugs is None:
            return drug_class == self.drug_class
        return drug in self.drugs


@dataclass(frozen=True)
class Offence:
    """An offence as recorded on the custody record."""

    code: str
    offence_date: date
    attempt: bool = False
    drug: str | None = None
    drug_class: str | None = None


@dataclass(frozen=True)
class TriggerCheck:
    is_trigger: bool
    reason: str


def _load(name: str) -> Any:
    return json.loads(resources.files("dipflow_custody.data").joinpath(name).read_text(encoding="utf-8"))


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@cache
def offence_types() -> dict[str, OffenceType]:
    return {row["code"]: OffenceType(**row) for row in _load("offences.json")["offences"]}


def is_arrest_power(code: str) -> bool:
    kind = offence_types().get(code)
    return kind is not None and kind.arrest_power


@cache
def trigger_rows() -> tuple[TriggerRow, ...]:
    rows = []
    for row in _load("trigger_offences.json")["rows"]:
        valid_from = _day(row["from"])
        assert valid_from is not None
        rows.append(
            TriggerRow(
                code=row["code"],
                attempt=row["attempt"],
                valid_from=valid_from,
                valid_to=_day(row["to"]),
                specified_class_a_drug_only=row.get("specified_class_a_drug_only", False),
            )
        )
    return tuple(rows)


@cache
def specified_drug_rows() -> tuple[SpecifiedDrugRow, ...]:
    rows = []
    for row in _load("specified_drugs.json")["rows"]:
        valid_from = _day(row["from"])
        assert valid_from is not None
        rows.append(
            SpecifiedDrugRow(
                drugs=None if row["drugs"] == "*" else frozenset(row["drugs"]),
                drug_class=row["class"],
                valid_from=valid_from,
                valid_to=_day(row["to"]),
            )
        )
    return tuple(rows)


def normalise_drug(drug: str) -> str:
    return drug.strip().lower()


def is_specified_drug(drug: str, drug_class: str | None, *, on: date) -> bool:
    """T14: is ``drug`` a specified (Class A) drug on ``on`` (the sample date, or the offence date)?"""
    name = normalise_drug(drug)
    klass = drug_class.upper() if drug_class else None
    return any(row.covers(name, klass, on) for row in specified_drug_rows())


def is_trigger_offence(offence: Offence, *, on: date | None = None) -> TriggerCheck:
    """Is ``offence`` a trigger offence under CJCSA 2000 Sch 6 as in force on its offence date?"""
    day = on or offence.offence_date
    kind = offence_types().get(offence.code)
    if kind is None:
        raise UnknownOffence(offence.code)
    label = f"attempted {kind.title}" if offence.attempt else kind.title
    for row in trigger_rows():
        if row.code != offence.code or row.attempt != offence.attempt or not row.in_force(day):
            continue
        if row.specified_class_a_drug_only and not (
            offence.drug is not None and is_specified_drug(offence.drug, offence.drug_class, on=day)
        ):
            drug = offence.drug or "an unstated drug"
            return TriggerCheck(
                False,
                f"{label} is a trigger offence only for a specified Class A drug; {drug} was not one "
                f"on {day:%d %b %Y}",
            )
        return TriggerCheck(
            True, f"{label} ({kind.statute} {kind.section}) was a trigger offence on {day:%d %b %Y}"
        )
    return TriggerCheck(
        False, f"{label} ({kind.statute} {kind.section}) was not a trigger offence on {day:%d %b %Y}"
    )


class UnknownOffence(LookupError):
    """An offence code the catalogue does not know; the message lists the known codes."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.known = sorted(offence_types())

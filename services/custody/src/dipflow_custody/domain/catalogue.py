"""The effective-dated reference data behind section T, kept as data (``dipflow_custody/data``).

The offence date decides whether an offence is a trigger offence (CJCSA 2000 Sch 6); the sample or offence date
decides which drugs are specified Class A drugs (T14, from the drug vocabulary). Dates in the data are inclusive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from dipflow.errors import InvalidInput
from dipflow_custody.domain.drugs import ClassPeriod, Drug, DrugVocabulary, Period


@dataclass(frozen=True)
class OffenceType:
    code: str
    statute: str
    section: str
    title: str
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
class Offence:
    """An offence as recorded on the custody record."""

    code: str
    offence_date: date
    attempt: bool = False
    drug: str | None = None
    drug_class: str | None = None
    """The class from the drug vocabulary on the offence date (never the caller's word)."""
    added_at: datetime | None = None
    """When it was recorded in the detention (book-in or a further arrest); None in older records."""


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
def drug_vocabulary() -> DrugVocabulary:
    """The shipped controlled-drug vocabulary (``data/drugs.json``)."""
    drugs = []
    for row in _load("drugs.json")["drugs"]:
        classes = tuple(ClassPeriod(c["class"], _period(c)) for c in row["classes"])
        specified = tuple(_period(p) for p in row["specified"])
        drugs.append(Drug(row["name"], tuple(row["synonyms"]), classes, specified))
    return DrugVocabulary(drugs)


def _period(row: dict[str, Any]) -> Period:
    valid_from = _day(row["from"])
    assert valid_from is not None
    return Period(valid_from, _day(row["to"]))


def is_specified_drug(drug: str, *, on: date) -> bool:
    """T14: is ``drug`` (a name or synonym) a specified Class A drug on ``on`` (the sample or offence date)?
    A drug the vocabulary does not know is not."""
    found = drug_vocabulary().find(drug)
    return found is not None and found.is_specified_class_a(on)


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
            offence.drug is not None and is_specified_drug(offence.drug, on=day)
        ):
            return TriggerCheck(False, _not_specified(label, offence.drug, day))
        return TriggerCheck(
            True, f"{label} ({kind.statute} {kind.section}) was a trigger offence on {day:%d %b %Y}"
        )
    return TriggerCheck(
        False, f"{label} ({kind.statute} {kind.section}) was not a trigger offence on {day:%d %b %Y}"
    )


def _not_specified(label: str, drug: str | None, day: date) -> str:
    if drug is None:
        return f"{label} is a trigger offence only for a specified Class A drug, and no drug is recorded"
    found = drug_vocabulary().find(drug)
    if found is None:
        return (
            f"{label} is a trigger offence only for a specified Class A drug; {drug} is not in the drug "
            "vocabulary, so it is not known to be one"
        )
    klass = found.class_on(day)
    what = f"Class {klass}" if klass else "not a controlled drug"
    return (
        f"{label} is a trigger offence only for a specified Class A drug; {found.name} was {what} and not a "
        f"specified Class A drug on {day:%d %b %Y}"
    )


class UnknownOffence(InvalidInput):
    """An offence code the catalogue does not know; the problem lists the known codes."""

    def __init__(self, code: str) -> None:
        known = sorted(offence_types())
        super().__init__(
            f"unknown offence code {code!r}",
            field="offences.code",
            reason=f"known codes: {', '.join(known)}",
            kind="unknown-offence-code",
            known_codes=known,
        )
        self.code = code
        self.known = known

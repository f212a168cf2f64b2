"""Offences and drugs (docs/rules.md T1, T14).

Three things, kept apart:
- the **Schedule 6 table** (CJCSA 2000 Sch 6 as amended, ``data/trigger_offences.json``): the provisions (statute
  and section) that are trigger offences, whole or attempted, between two dates. It is the law, shipped with the
  code. Whether an offence is a trigger offence is decided by the provision recorded and its offence date, never
  by a code;
- the **offence catalogue** a force manages (code, statute, section, title, category): how custody systems name
  offences. An offence it does not know is still recorded, as given, and flagged as not in the catalogue;
- the **drug vocabulary** (names, synonyms, class over time, specified Class A periods), also managed.

The catalogue and the vocabulary in force are a :class:`ReferenceSnapshot` the service layer installs when the
managed data changes (:func:`install_reference`); until then, and in unit tests, the shipped files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from dipflow.errors import InvalidInput
from dipflow_custody.domain.drugs import ClassPeriod, Drug, DrugVocabulary, Period

CATEGORIES = (
    "violence against the person",
    "sexual offences",
    "robbery",
    "burglary",
    "theft and handling",
    "fraud and forgery",
    "criminal damage and arson",
    "drugs",
    "weapons",
    "public order",
    "motoring",
    "bail and justice",
    "immigration",
    "other",
)
COMMON_LAW = "Common law"
_SECTION = re.compile(r"^(\d+[A-Z]{0,3})((\((\d+[A-Z]{0,2}|[A-Z]\d+)\))*(\([a-z]{1,4}\))*)$")


class BadProvision(InvalidInput):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(
            f"the offence's {field.rsplit('.', 1)[-1]} is not one we can read", field=field, reason=reason
        )


@lru_cache(maxsize=1024)
def normalise_section(text: str, field: str = "section") -> str:
    """``s.5(2)`` from "s5(2)", "S. 5 (2)", "section 5(2)" or "5(2)"; ``""`` for none (common law). Letters of a
    section number are upper case (s.12A), of a paragraph lower case (s.5(1)(a)). Each text is read once (every
    book-in names its offences' sections again); one that cannot be read is refused every time."""
    squeezed = "".join(text.split()).lower()
    for prefix in ("section", "sect.", "sect", "sec.", "sec", "s."):
        if squeezed.startswith(prefix):
            squeezed = squeezed[len(prefix) :]
            break
    else:
        if squeezed.startswith("s") and squeezed[1:2].isdigit():
            squeezed = squeezed[1:]
    if not squeezed:
        return ""
    head = re.match(r"^\d+[a-z]{0,3}", squeezed)
    if head is None:
        raise BadProvision(field, "a section is a number with its subsections, e.g. s.5(2) or s.12A")
    number, rest = head.group(0).upper(), squeezed[head.end() :]
    rest = re.sub(r"\((\d+)([a-z]{0,2})\)", lambda m: f"({m.group(1)}{m.group(2).upper()})", rest)
    rest = re.sub(r"\(([a-z])(\d+)\)", lambda m: f"({m.group(1).upper()}{m.group(2)})", rest)
    if _SECTION.match(number + rest) is None:
        raise BadProvision(field, "a section is a number with its subsections, e.g. s.5(2) or s.12A")
    return f"s.{number}{rest}"


def normalise_statute(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Provision:
    """Where the law creates an offence: a statute and a section (``""`` for a common-law offence)."""

    statute: str
    section: str

    @classmethod
    def of(cls, statute: str, section: str) -> Provision:
        return cls(normalise_statute(statute), normalise_section(section))

    @property
    def key(self) -> tuple[str, str]:
        return (self.statute.casefold(), self.section)

    def within(self, other: Provision) -> bool:
        """This provision is ``other`` or one of its subsections (s.1(1) is within s.1; s.12A is not)."""
        if self.statute.casefold() != other.statute.casefold():
            return False
        return self.section == other.section or self.section.startswith(other.section + "(")

    def __str__(self) -> str:
        return f"{self.statute} {self.section}".strip()


@dataclass(frozen=True)
class OffenceType:
    """An offence as the catalogue names it."""

    code: str
    statute: str
    section: str
    title: str
    category: str = "other"
    arrest_power: bool = False
    """A ground of arrest that is not an offence (BA76 s.7(3)): no test under s.63B can follow from it."""

    @property
    def provision(self) -> Provision:
        return Provision.of(self.statute, self.section)

    @property
    def label(self) -> str:
        return f"{self.statute} {self.section} ({self.title})"


class OffenceCatalogue:
    """Offence types by code and by provision; statutes also by the abbreviation their codes use (TA1968)."""

    def __init__(self, types: Iterable[OffenceType]) -> None:
        self._by_code = {t.code: t for t in types}
        self._by_provision = {t.provision.key: t for t in self._by_code.values() if t.statute != COMMON_LAW}
        self._common_law = {
            " ".join(t.title.casefold().split()): t for t in self._by_code.values() if t.statute == COMMON_LAW
        }
        self._statutes: dict[str, str] = {}
        for t in self._by_code.values():
            self._statutes[t.statute.casefold()] = t.statute
            abbreviation = t.code.split("-", 1)[0]
            if t.statute != COMMON_LAW and abbreviation:
                self._statutes.setdefault(abbreviation.casefold(), t.statute)

    def get(self, code: str) -> OffenceType | None:
        return self._by_code.get(code)

    def find(self, provision: Provision, wording: str | None = None) -> OffenceType | None:
        """The entry for exactly this provision; a common-law offence (no section) by its title in ``wording``."""
        if provision.statute.casefold() == COMMON_LAW.casefold():
            return self._common_law.get(" ".join((wording or "").casefold().split()))
        return self._by_provision.get(provision.key)

    def statute_named(self, text: str) -> str:
        """The catalogue's spelling of a statute given by name or by its code abbreviation; else as given."""
        given = normalise_statute(text)
        return self._statutes.get(given.casefold()) or self._statutes.get(
            given.casefold().replace(" ", ""), given
        )

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def __iter__(self) -> Iterator[OffenceType]:
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)


@dataclass(frozen=True)
class TriggerRow:
    """One row of Schedule 6: ``provision`` (and its subsections) was a trigger offence from ``valid_from`` to
    ``valid_to`` inclusive, whole or, with ``attempt``, attempted."""

    provision: Provision
    title: str
    attempt: bool
    valid_from: date
    valid_to: date | None
    specified_class_a_drug_only: bool = False

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class Offence:
    """An offence as recorded on the custody record: the provision as the custody system gave it, and whether
    the catalogue knows it (an offence it does not know is recorded all the same)."""

    code: str
    offence_date: date
    attempt: bool = False
    drug: str | None = None
    drug_class: str | None = None
    """The class from the drug vocabulary on the offence date (never the caller's word)."""
    added_at: datetime | None = None
    """When it was recorded in the detention (book-in or a further arrest); None in older records."""
    statute: str = ""
    section: str = ""
    title: str = ""
    in_catalogue: bool = True
    arrest_power: bool = False
    wording: str | None = None
    """The custody system's own words for the offence, kept as given."""
    system_code: str | None = None
    """The custody system's own offence code, kept as given."""

    @property
    def provision(self) -> Provision:
        if self.statute:
            return Provision(self.statute, self.section)
        return _catalogued(self.code).provision

    @property
    def is_arrest_power(self) -> bool:
        return self.arrest_power or (self.in_catalogue and not self.statute and is_arrest_power(self.code))

    @property
    def label(self) -> str:
        title = self.title or (_catalogued(self.code).title if not self.statute else str(self.provision))
        return f"attempted {title}" if self.attempt else title


@dataclass(frozen=True)
class OffenceIntake:
    """An offence as a custody system names it: a catalogue code, or a statute and section (with its own code
    and wording), and the facts of it."""

    offence_date: date
    code: str | None = None
    statute: str | None = None
    section: str | None = None
    attempt: bool = False
    drug: str | None = None
    wording: str | None = None
    system_code: str | None = None


def resolve(intake: OffenceIntake, catalogue: OffenceCatalogue | None = None) -> Offence:
    """The offence to record: named from the catalogue when it knows the code or the provision, else recorded as
    given and flagged not in the catalogue (T1 decides it from the provision all the same). A code the catalogue
    does not know, with no statute, cannot be recorded."""
    known = catalogue or current_reference().offences
    entry = known.get(intake.code) if intake.code else None
    if intake.code and entry is None and not intake.statute:
        raise UnknownOffence(intake.code, known)
    provision: Provision | None = None
    if intake.statute:
        provision = Provision.of(known.statute_named(intake.statute), intake.section or "")
        by_provision = known.find(provision, intake.wording)
        if entry is not None and by_provision is not None and by_provision.code != entry.code:
            raise InvalidInput(
                f"the code {entry.code} is {entry.label}, not {provision}",
                field="offences.code",
                reason="the code and the statute and section name different offences",
                kind="offence-mismatch",
            )
        entry = entry or by_provision
    if entry is not None:
        offence = Offence(
            entry.code,
            intake.offence_date,
            intake.attempt,
            intake.drug,
            statute=entry.statute,
            section=normalise_section(entry.section),
            title=entry.title,
            arrest_power=entry.arrest_power,
            wording=intake.wording,
            system_code=intake.system_code,
        )
    else:
        assert provision is not None
        offence = Offence(
            intake.system_code or str(provision),
            intake.offence_date,
            intake.attempt,
            intake.drug,
            statute=provision.statute,
            section=provision.section,
            title=intake.wording or str(provision),
            in_catalogue=False,
            wording=intake.wording,
            system_code=intake.system_code,
        )
    return classify_offence_drug(offence)


def classify_offence_drug(offence: Offence, drugs: DrugVocabulary | None = None) -> Offence:
    """The offence with its drug named and classed from the vocabulary on the offence date (a drug the
    vocabulary does not know is kept as given, with no class)."""
    if offence.drug is None:
        return replace(offence, drug_class=None)
    found = (drugs or drug_vocabulary()).find(offence.drug)
    if found is None:
        return replace(offence, drug=offence.drug.strip().lower(), drug_class=None)
    return replace(offence, drug=found.name, drug_class=found.class_on(offence.offence_date))


@dataclass(frozen=True)
class TriggerCheck:
    is_trigger: bool
    reason: str


def _load(name: str) -> Any:
    return json.loads(resources.files("dipflow_custody.data").joinpath(name).read_text(encoding="utf-8"))


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def offence_type_from(row: dict[str, Any]) -> OffenceType:
    return OffenceType(
        code=row["code"],
        statute=row["statute"],
        section=row["section"],
        title=row["title"],
        category=row.get("category", "other"),
        arrest_power=row.get("arrest_power", False),
    )


@cache
def shipped_catalogue() -> OffenceCatalogue:
    """The catalogue shipped in ``data/offences.json`` (the first import of a new installation)."""
    return OffenceCatalogue(offence_type_from(row) for row in _load("offences.json")["offences"])


def drug_from(row: dict[str, Any]) -> Drug:
    classes = tuple(ClassPeriod(c["class"], _period(c)) for c in row["classes"])
    specified = tuple(_period(p) for p in row["specified"])
    return Drug(row["name"], tuple(row.get("synonyms", ())), classes, specified)


@cache
def shipped_drugs() -> DrugVocabulary:
    """The controlled-drug vocabulary shipped in ``data/drugs.json``."""
    return DrugVocabulary(drug_from(row) for row in _load("drugs.json")["drugs"])


def _period(row: dict[str, Any]) -> Period:
    valid_from = _day(row["from"])
    assert valid_from is not None
    return Period(valid_from, _day(row["to"]))


@dataclass(frozen=True)
class ReferenceSnapshot:
    """The catalogue and the vocabulary in force, as of ``version`` of the managed data (0: the shipped files)."""

    version: int
    offences: OffenceCatalogue
    drugs: DrugVocabulary


_installed: list[ReferenceSnapshot] = []


def current_reference() -> ReferenceSnapshot:
    if not _installed:
        _installed.append(ReferenceSnapshot(0, shipped_catalogue(), shipped_drugs()))
    return _installed[-1]


def install_reference(snapshot: ReferenceSnapshot) -> None:
    """Use ``snapshot`` from now on (the service layer, when the managed data changed)."""
    _installed[:] = [snapshot]


def offence_types() -> dict[str, OffenceType]:
    return {t.code: t for t in current_reference().offences}


def drug_vocabulary() -> DrugVocabulary:
    return current_reference().drugs


def _catalogued(code: str) -> OffenceType:
    entry = current_reference().offences.get(code) or shipped_catalogue().get(code)
    if entry is None:
        raise UnknownOffence(code, current_reference().offences)
    return entry


def is_arrest_power(code: str) -> bool:
    kind = current_reference().offences.get(code) or shipped_catalogue().get(code)
    return kind is not None and kind.arrest_power


@cache
def trigger_rows() -> tuple[TriggerRow, ...]:
    rows = []
    for row in _load("trigger_offences.json")["rows"]:
        valid_from = _day(row["from"])
        assert valid_from is not None
        rows.append(
            TriggerRow(
                provision=Provision.of(row["statute"], row["section"]),
                title=row["title"],
                attempt=row["attempt"],
                valid_from=valid_from,
                valid_to=_day(row["to"]),
                specified_class_a_drug_only=row.get("specified_class_a_drug_only", False),
            )
        )
    return tuple(rows)


@cache
def _trigger_rows_by_statute() -> dict[str, tuple[TriggerRow, ...]]:
    """The rows of each statute (casefolded), in the schedule's order: only they can hold a provision of it."""
    by_statute: dict[str, list[TriggerRow]] = {}
    for row in trigger_rows():
        by_statute.setdefault(row.provision.statute.casefold(), []).append(row)
    return {statute: tuple(rows) for statute, rows in by_statute.items()}


def is_specified_drug(drug: str, *, on: date) -> bool:
    """T14: is ``drug`` (a name or synonym) a specified Class A drug on ``on`` (the sample or offence date)?
    A drug the vocabulary does not know is not."""
    found = drug_vocabulary().find(drug)
    return found is not None and found.is_specified_class_a(on)


def is_trigger_offence(offence: Offence, *, on: date | None = None) -> TriggerCheck:
    """T1: is the recorded provision a trigger offence under CJCSA 2000 Sch 6 as in force on its offence date?
    Decided by the statute and section (and attempt, and for drug offences the drug's class), whether or not the
    catalogue knows the offence. The same offence on the same day under the same reference data is the same
    answer: each detention's decisions ask again for every offence it holds, so answers are kept (at most
    ``TRIGGER_CHECKS_KEPT``) for the reference data in force, and reference data installed since is asked anew."""
    return _trigger_check(offence, on or offence.offence_date, current_reference())


TRIGGER_CHECKS_KEPT = 4096


@lru_cache(maxsize=TRIGGER_CHECKS_KEPT)
def _trigger_check(offence: Offence, day: date, reference: ReferenceSnapshot) -> TriggerCheck:
    """``reference`` is the data in force when asked, the very data the check reads (through the offence's
    provision and label and the drug vocabulary): it is here to key the kept answer, not read again."""
    provision = offence.provision
    label = offence.label
    not_catalogued = "" if offence.in_catalogue else "; it is not in the catalogue and is recorded as given"
    for row in _trigger_rows_by_statute().get(provision.statute.casefold(), ()):
        if row.attempt != offence.attempt or not row.in_force(day) or not provision.within(row.provision):
            continue
        if row.specified_class_a_drug_only and not (
            offence.drug is not None and is_specified_drug(offence.drug, on=day)
        ):
            return TriggerCheck(False, _not_specified(label, offence.drug, day))
        return TriggerCheck(True, f"{label} ({provision}) was a trigger offence on {day:%d %b %Y}")
    return TriggerCheck(
        False, f"{label} ({provision}) was not a trigger offence on {day:%d %b %Y}{not_catalogued}"
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
    """A catalogue code the catalogue does not know, given without a statute and section to record it by."""

    def __init__(self, code: str, catalogue: OffenceCatalogue | None = None) -> None:
        known = (catalogue or current_reference().offences).codes()
        super().__init__(
            f"unknown offence code {code!r}: name the offence by its statute and section to record it as given",
            field="offences.code",
            reason="not in the catalogue (GET /v1/offence-codes); give statute and section instead",
            kind="unknown-offence-code",
            known_codes=known,
        )
        self.code = code
        self.known = known

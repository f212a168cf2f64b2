"""Reference data a force runs itself (docs/rules.md T1, T2): areas (boroughs and the forces that cover them) and
custody suites, each a history of versions effective from a date. Nothing is overwritten: a suite that moves to
another borough gets a new version from the day it moves, so a detention keeps the borough its suite had on the
day of the booking. Plain Python: the CSV files admins import are read here, row by row, into versions or into
the line, field and reason of each row that cannot be one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Generic, TypeVar

from dipflow.errors import InvalidInput
from dipflow.people import AREA_CODE
from dipflow_custody.domain.catalogue import (
    CATEGORIES,
    BadProvision,
    OffenceType,
    normalise_section,
    normalise_statute,
)
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod

T = TypeVar("T")
SUITE_CODE = re.compile(r"^[A-Z][A-Z0-9-]{2,59}$")
OFFENCE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9().\-]{1,59}$")
MAX_IMPORT_ROWS = 5000


class AreaKind(StrEnum):
    force = "force"
    borough = "borough"


@dataclass(frozen=True)
class Area:
    """A borough, covered by ``force``, or a force (its own ``force``)."""

    code: str
    name: str
    kind: AreaKind
    force: str


@dataclass(frozen=True)
class Suite:
    code: str
    name: str
    force: str
    borough: str
    address: str | None = None


@dataclass(frozen=True)
class Version(Generic[T]):
    effective_from: date
    value: T
    recorded_by: str = ""


def in_force(versions: Sequence[Version[T]], on: date) -> T | None:
    """The version in force on ``on``: the latest effective by then (of two from the same day, the later)."""
    found: T | None = None
    for version in versions:  # oldest first
        if version.effective_from <= on:
            found = version.value
    return found


def latest(versions: Sequence[Version[T]]) -> T | None:
    return versions[-1].value if versions else None


def check_area(area: Area, forces: Mapping[str, Area]) -> None:
    """A force is its own force; a borough names a force the areas know."""
    if not AREA_CODE.match(area.code):
        raise InvalidInput(
            "an area code is lower case letters, digits and hyphens", field="code", reason="bad code"
        )
    if area.kind is AreaKind.force and area.force != area.code:
        raise InvalidInput("a force covers itself", field="force", reason=f"must be {area.code}")
    if area.kind is AreaKind.borough:
        force = forces.get(area.force)
        if force is None or force.kind is not AreaKind.force:
            raise InvalidInput(f"no force {area.force!r}", field="force", reason="not a force the areas know")


def check_suite(suite: Suite, boroughs: Mapping[str, Area]) -> None:
    """A suite's borough is a borough of the suite's force (its detentions follow that borough's access)."""
    if not SUITE_CODE.match(suite.code):
        raise InvalidInput(
            "a suite code is upper case letters, digits and hyphens", field="code", reason="bad code"
        )
    borough = boroughs.get(suite.borough)
    if borough is None or borough.kind is not AreaKind.borough:
        raise InvalidInput(
            f"no borough {suite.borough!r}", field="borough", reason="not a borough the areas know"
        )
    if borough.force != suite.force:
        raise InvalidInput(
            f"{suite.borough} is covered by {borough.force}, not {suite.force}",
            field="force",
            reason=f"{suite.borough}'s force is {borough.force}",
        )


# -- CSV imports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


class ImportKind(StrEnum):
    areas = "areas"
    suites = "suites"
    notifications = "notifications"
    offences = "offences"


COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.areas: ("code", "name", "kind", "force", "effective_from"),
    ImportKind.suites: ("code", "name", "force", "borough", "address", "effective_from"),
    ImportKind.notifications: ("place", "kind", "valid_from", "valid_to"),
    ImportKind.offences: ("code", "statute", "section", "title", "category"),
}
OPTIONAL = {"address", "valid_to", "effective_from", "category"}
OPTIONAL_IF_DERIVED = {"force", "section"}
"""A force's own ``force`` is itself; a common-law offence has no section."""


class BadCell(ValueError):
    """A cell that cannot be read: its column and why."""

    def __init__(self, reason: str, column: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


def _cell(cells: dict[str, str], column: str, read: Callable[[str], T]) -> T:
    try:
        return read(cells[column])
    except BadCell as exc:
        raise BadCell(exc.reason, column) from None
    except BadProvision as exc:
        raise BadCell(exc.reason, column) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadCell("a date as YYYY-MM-DD") from None


def _text(limit: int) -> Callable[[str], str]:
    def read(text: str) -> str:
        if len(text) > limit:
            raise BadCell(f"at most {limit} characters")
        return text

    return read


E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E]) -> Callable[[str], E]:
    def read(text: str) -> E:
        try:
            return kind(text)
        except ValueError:
            raise BadCell(f"one of: {', '.join(k.value for k in kind)}") from None

    return read


def _from(cells: dict[str, str], default: date) -> date:
    return _cell(cells, "effective_from", _day) if cells["effective_from"] else default


def _row_area(cells: dict[str, str], default_from: date) -> Version[Area]:
    kind = _cell(cells, "kind", _choice(AreaKind))
    force = cells["force"] or (cells["code"] if kind is AreaKind.force else "")
    area = Area(cells["code"], _cell(cells, "name", _text(120)), kind, force)
    return Version(_from(cells, default_from), area)


def _row_suite(cells: dict[str, str], default_from: date) -> Version[Suite]:
    name = _cell(cells, "name", _text(120))
    suite = Suite(cells["code"], name, cells["force"], cells["borough"], cells["address"] or None)
    return Version(_from(cells, default_from), suite)


def _row_notification(cells: dict[str, str], default_from: date) -> NotificationPeriod:
    valid_from = _cell(cells, "valid_from", _day)
    valid_to = _cell(cells, "valid_to", _day) if cells["valid_to"] else None
    if valid_to is not None and valid_to < valid_from:
        raise BadCell("before valid_from", "valid_to")
    return NotificationPeriod(
        cells["place"], _cell(cells, "kind", _choice(NotificationKind)), valid_from, valid_to
    )


def _offence_code(text: str) -> str:
    if not OFFENCE_CODE.match(text):
        raise BadCell("letters, digits and . - ( ) only")
    return text


def _category(text: str) -> str:
    if (text or "other") not in CATEGORIES:
        raise BadCell(f"one of: {', '.join(CATEGORIES)}")
    return text or "other"


def _row_offence(cells: dict[str, str], default_from: date) -> OffenceType:
    return OffenceType(
        _cell(cells, "code", _offence_code),
        normalise_statute(cells["statute"]),
        _cell(cells, "section", normalise_section),
        _cell(cells, "title", _text(200)),
        _cell(cells, "category", _category),
    )


READERS: dict[ImportKind, Callable[[dict[str, str], date], Any]] = {
    ImportKind.areas: _row_area,
    ImportKind.suites: _row_suite,
    ImportKind.notifications: _row_notification,
    ImportKind.offences: _row_offence,
}


def parse_import(kind: ImportKind, text: str, today: date) -> tuple[list[tuple[int, Any]], list[RowError]]:
    """Every row of a CSV file of ``kind`` read (with its line), or the line, column and reason of each that
    cannot be. The header names the columns, in any order; ``address``, ``valid_to``, ``effective_from`` and
    ``category`` may be left out, and ``effective_from`` is then ``today``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[kind] if c not in header and c not in OPTIONAL]
    if missing:
        return [], [RowError(1, c, "missing column") for c in missing]
    rows: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            errors.append(RowError(number, "", f"at most {MAX_IMPORT_ROWS} rows in one file"))
            break
        given = {c: (raw.get(h) or "").strip() for h, c in zip(reader.fieldnames or [], header, strict=True)}
        cells = {c: given.get(c, "") for c in COLUMNS[kind]}
        required = [c for c in COLUMNS[kind] if c not in OPTIONAL | OPTIONAL_IF_DERIVED and not cells[c]]
        if required:
            errors.extend(RowError(number, c, "required") for c in required)
            continue
        try:
            rows.append((number, READERS[kind](cells, today)))
        except BadCell as exc:
            errors.append(RowError(number, exc.column, exc.reason))
    return rows, errors


def offence_section_ok(section: str) -> str | None:
    """None when the section reads (or is empty, for common law), else why not."""
    try:
        normalise_section(section)
    except BadProvision as exc:
        return exc.reason
    return None


def check_rows(
    kind: ImportKind, rows: Iterable[tuple[int, Any]], check: Callable[[Any], None]
) -> list[RowError]:
    """The rows the ``check`` (the same as a single change's) refuses, with its field and reason."""
    errors = []
    for line, row in rows:
        try:
            check(row)
        except InvalidInput as exc:
            errors.append(RowError(line, exc.field, exc.reason))
    return errors

"""Bulk import of register rows from a partnership's CSV file (P1).

Every row is validated before anything is written, and each error names its line, field and reason. A row
that is already on the register exactly as given changes nothing, so importing the same file twice changes
nothing the second time.

Columns: ``person_id, borough, strand, start_date`` and optionally ``end_date, reason``. Strands may be
written as on partnership lists ("Prevent & Deter", "Catch and Convict", "R&R") or as the API's values;
dates as ``2008-03-01`` or ``01/03/2008``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from dipflow.people import AREA_CODE
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand, check_add

PERSON_ID = re.compile(r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$")
MISSING_COLUMN = "missing column"
REQUIRED = ("person_id", "borough", "strand", "start_date")
DEFAULT_REASON = "bulk import"
_STRAND_NAMES = {
    "prevent and deter": Strand.prevent_and_deter,
    "p and d": Strand.prevent_and_deter,
    "pd": Strand.prevent_and_deter,
    "catch and convict": Strand.catch_and_convict,
    "c and c": Strand.catch_and_convict,
    "cc": Strand.catch_and_convict,
    "rehabilitate and resettle": Strand.rehabilitate_and_resettle,
    "r and r": Strand.rehabilitate_and_resettle,
    "rr": Strand.rehabilitate_and_resettle,
}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class ImportRow:
    line: int
    person_id: str
    borough: str
    strand: Strand
    start_date: date
    end_date: date | None
    reason: str


class Action(StrEnum):
    unchanged = "unchanged"
    add = "add"
    add_and_end = "add_and_end"
    end = "end"


def parse_strand(text: str) -> Strand | None:
    value = text.strip()
    try:
        return Strand(value.lower())
    except ValueError:
        pass
    key = re.sub(r"\s+", " ", value.lower().replace("&", " and ").replace("_", " ")).strip()
    return _STRAND_NAMES.get(key) or _STRAND_NAMES.get(key.replace(" and ", "").replace(" ", ""))


def parse_day(text: str) -> date | None:
    value = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def unreadable(errors: list[RowError]) -> bool:
    """The file as a whole is wrong (no required columns, not CSV, no rows): there are no good rows."""
    return any(e.field == "file" or e.reason == MISSING_COLUMN for e in errors)


def parse_csv(text: str) -> tuple[list[ImportRow], list[RowError]]:
    """Rows and errors; line numbers are the file's (the header is line 1)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _parse(reader)
    except csv.Error as exc:  # a line the csv module cannot read (a bare CR inside a field): name it
        return [], [RowError(max(reader.line_num, 1), "file", f"not CSV: {exc}")]


def _parse(reader: csv.DictReader[str]) -> tuple[list[ImportRow], list[RowError]]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [RowError(1, c, MISSING_COLUMN) for c in missing]
    reader.fieldnames = header
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for record in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in record.items() if k is not None}
        if not any(values.values()):
            continue
        row_errors: list[RowError] = []
        if not PERSON_ID.match(values.get("person_id", "")):
            row_errors.append(
                RowError(line, "person_id", "not a PNC number (YY/NNNNNNNL) or local id (L-...)")
            )
        borough = values.get("borough", "").lower().replace(" ", "-")
        if not AREA_CODE.match(borough):
            row_errors.append(RowError(line, "borough", "not a borough name (letters and hyphens)"))
        strand = parse_strand(values.get("strand", ""))
        if strand is None:
            row_errors.append(
                RowError(
                    line, "strand", "not one of Prevent & Deter, Catch & Convict, Rehabilitate & Resettle"
                )
            )
        start = parse_day(values.get("start_date", ""))
        if start is None:
            row_errors.append(RowError(line, "start_date", "not a date (YYYY-MM-DD or DD/MM/YYYY)"))
        end: date | None = None
        if values.get("end_date"):
            end = parse_day(values["end_date"])
            if end is None:
                row_errors.append(RowError(line, "end_date", "not a date (YYYY-MM-DD or DD/MM/YYYY)"))
            elif start is not None and end < start:
                row_errors.append(RowError(line, "end_date", "before the start date"))
        reason = values.get("reason") or DEFAULT_REASON
        if len(reason) > 500:
            row_errors.append(RowError(line, "reason", "longer than 500 characters"))
        if row_errors:
            errors.extend(row_errors)
            continue
        assert strand is not None and start is not None
        rows.append(ImportRow(line, values["person_id"], borough, strand, start, end, reason))
    if reader.line_num <= 1 and not rows and not errors:
        errors.append(RowError(1, "file", "no rows"))
    return rows, errors


def plan_row(history: list[Period], row: ImportRow) -> Action:
    """What importing ``row`` does to a person's ``history``. Raises RegisterRuleBroken (P1) when the row
    contradicts the register."""
    same = next(
        (
            p
            for p in history
            if (p.borough, p.strand, p.start_date) == (row.borough, row.strand, row.start_date)
        ),
        None,
    )
    if same is not None:
        if row.end_date is None or row.end_date == same.end_date:
            return Action.unchanged
        if same.end_date is None:
            if row.end_date < same.start_date:
                raise RegisterRuleBroken("P1", "the end date is before the period began", "end_date")
            return Action.end
        raise RegisterRuleBroken("P1", f"this period already ended on {same.end_date:%d %b %Y}", "end_date")
    check_add(history, row.borough, row.strand, row.start_date)
    return Action.add if row.end_date is None else Action.add_and_end

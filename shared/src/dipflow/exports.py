"""Measures as files analysts send on: CSV (UTF-8, a header row) and XLSX (one sheet, a header row, the
definitions below the table), built from the same rows the API answers, so a file always matches the API."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"


class FileFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


@dataclass(frozen=True)
class Table:
    """A measure as a file: its title, columns (key, heading), rows and the definitions of what it counts."""

    title: str
    columns: Sequence[tuple[str, str]]
    rows: Sequence[Mapping[str, Any]]
    definitions: Sequence[str] = ()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def as_csv(table: Table) -> bytes:
    """The rows under a header of the column keys (machine-readable; the definitions are in the XLSX)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([key for key, _ in table.columns])
    for row in table.rows:
        writer.writerow([_cell(row.get(key)) for key, _ in table.columns])
    return out.getvalue().encode()


def as_xlsx(table: Table) -> bytes:
    """One sheet: the title, the column headings, the rows as numbers where they are numbers, then the
    definitions."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = re.sub(r"[\\/*?:\[\]]", "-", table.title)[:31]  # characters a sheet's name may not hold
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([heading for _, heading in table.columns])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([_cell(row.get(key)) for key, _ in table.columns])
    if table.definitions:
        sheet.append([])
        sheet.append(["Definitions"])
        for line in table.definitions:
            sheet.append([line])
    for n, (_, heading) in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = max(12, len(heading) + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

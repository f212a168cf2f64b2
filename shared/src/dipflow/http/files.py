"""Measures answered as files: ``?format=csv`` or ``?format=xlsx`` gives the same rows as the JSON answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel

from dipflow.exports import CSV_TYPE, XLSX_TYPE, FileFormat, Table, as_csv, as_xlsx
from dipflow.http.problems import Problem
from dipflow.periods import NotAPeriod, bounds

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}, XLSX_TYPE: {}},
        "description": "JSON, or the file asked for with ?format=",
    }
}
Format = Annotated[FileFormat, Query(alias="format", description="json, or a csv or xlsx file")]


def file_or_rows(
    table: Table,
    rows: Sequence[BaseModel],
    wanted: FileFormat,
    name: str,
    dump: Callable[[BaseModel], Mapping[str, Any]] = lambda row: row.model_dump(),
) -> Any:
    """``rows`` as they are for JSON; else the file of ``table``'s columns holding them (each row as ``dump``
    gives it, flat), named ``name``."""
    if wanted is FileFormat.json:
        return rows
    filled = Table(table.title, table.columns, [dump(r) for r in rows], table.definitions)
    body, media = (as_csv(filled), CSV_TYPE) if wanted is FileFormat.csv else (as_xlsx(filled), XLSX_TYPE)
    return Response(
        body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}.{wanted}"'}
    )


def checked_period(name: str, field: str) -> str:
    """``name`` when it is a period a return can count (a month, quarter or financial year in the calendar);
    else a 422 naming ``field`` and the forms that are accepted."""
    try:
        bounds(name)
    except NotAPeriod as exc:
        raise Problem(422, str(exc), errors=[{"field": field, "reason": str(exc)}]) from None
    return name

"""/v1/tested-positive: PPOs who have tested positive (P2), as JSON or a CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from dipflow.auth.purposes import Purpose, required_purpose
from dipflow.http.params import Day
from dipflow.working_days import london_today
from dipflow_ppo_register.domain.register import Strand
from dipflow_ppo_register.entrypoints.http.deps import ListReader, borough_for
from dipflow_ppo_register.service_layer import lists

router = APIRouter(prefix="/v1/tested-positive", tags=["tested-positive list (P2)"])
LIST_PURPOSES = (Purpose.supervision,)
CSV_COLUMNS = (
    "person_id",
    "borough",
    "strand",
    "on_register_since",
    "last_positive_on",
    "last_drugs",
    "positives_in_12_months",
)


class PositiveListLine(BaseModel):
    person_id: str
    borough: str
    strand: Strand
    on_register_since: date
    last_positive_on: date
    last_drugs: list[str]
    positives_in_12_months: int
    rule_ids: list[str]


class Format(StrEnum):
    json = "json"
    csv = "csv"


def _line(x: lists.PositiveListLine) -> PositiveListLine:
    return PositiveListLine(
        person_id=x.period.person_id,
        borough=x.period.borough,
        strand=x.period.strand,
        on_register_since=x.period.start_date,
        last_positive_on=x.entry.last_positive_on,
        last_drugs=list(x.entry.last_drugs),
        positives_in_12_months=x.entry.positives_in_12_months,
        rule_ids=list(x.entry.rule_ids),
    )


def _csv(lines: list[PositiveListLine], borough: str | None, day: date) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        row = line.model_dump(mode="json")
        row["last_drugs"] = ";".join(line.last_drugs)
        writer.writerow([row[c] for c in CSV_COLUMNS])
    # Header values are Latin-1 and one line: the borough as asked may be neither (a 500 found by fuzzing).
    place = re.sub(r"[^a-z0-9]+", "-", (borough or "all").lower()).strip("-") or "borough"
    filename = f"tested-positive-{place}-{day.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "",
    response_model=list[PositiveListLine],
    summary="PPOs who have tested positive: last positive, its drugs, positives in the last 12 months",
    responses={200: {"content": {"text/csv": {}}}},
)
async def tested_positive_list(
    ctx: ListReader,
    borough: str | None = Query(None, max_length=60),
    as_of: Day | None = None,
    format: Format = Format.json,
    purpose: Purpose | None = Query(None, description="What the results are read for (T13): supervision"),
) -> Any:
    """Refreshed as custody results arrive. ``format=csv`` exports the same lines."""
    day = as_of or london_today()
    reading = required_purpose(ctx.principal, purpose, LIST_PURPOSES)
    wanted = borough_for(ctx, borough)
    async with ctx.unit_of_work() as uow:
        found = await lists.tested_positive_list(uow, day, wanted, str(reading))
    lines = [_line(x) for x in found]
    return _csv(lines, borough, day) if format is Format.csv else lines

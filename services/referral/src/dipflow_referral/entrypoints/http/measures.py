"""/v1/measures/k4: K4 arrest referral measures by period, borough and custody suite (counts only), optionally by
the drugs the test found or by PPO status, as JSON or as CSV and XLSX files."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.exports import FileFormat, Table
from dipflow.http.files import FILE_RESPONSES, Format, file_or_rows
from dipflow.http.params import Day
from dipflow.periods import Granularity
from dipflow_referral.domain.measures import K4_MEASURES, Breakdown
from dipflow_referral.entrypoints.http.deps import MeasureReader
from dipflow_referral.service_layer import measures

router = APIRouter(prefix="/v1/measures", tags=["measures"])
K4_DEFINITIONS = (
    "K4: arrest referral measures at each custody suite, in the borough the suite serves, by when each happened "
    "(Europe/London days): tests taken, positive tests, required assessments imposed (RA1 served) and lapsed (A1, "
    "released before RA1), initial and follow-up assessments attended, failures without good cause (A4, A5), and "
    "people entering treatment.",
    "By drug (the 2003-06 action plan's criteria): the drugs the test found: cocaine or crack, opiates (heroin "
    "and, from 2 August 2023, the specified opioids), both, other drugs only, or negative.",
    "By PPO status: whether the person was on the PPO register when booked in.",
    "Periods: calendar months, financial-year quarters (Q1 April-June) and financial years (April-March).",
)


class K4Row(BaseModel):
    period: str
    borough: str
    suite: str
    group: str | None = Field(None, description="With ?by=: the drug group or the PPO status")
    tests: int = 0
    positives: int = 0
    requirements_imposed: int = 0
    requirements_lapsed: int = Field(
        0, description="A1: released before RA1 was served, the requirement lapsed"
    )
    initial_attended: int = 0
    follow_up_attended: int = 0
    failures: int = 0
    entered_treatment: int = 0


K4_COLUMNS = (
    ("period", "Period"),
    ("borough", "Borough"),
    ("suite", "Custody suite"),
    ("group", "Group"),
    *((m, m.replace("_", " ").capitalize()) for m in K4_MEASURES),
)


@router.get(
    "/k4",
    response_model=list[K4Row],
    responses=FILE_RESPONSES,
    summary="K4: tests, positives, requirements, attendance, treatment; by drug or PPO status",
)
async def k4(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
    per: Annotated[Granularity, Query(description="month, quarter (financial year) or financial_year")] = (
        Granularity.month
    ),
    by: Breakdown | None = Query(None, description="drug or ppo: a line per group"),
    file_format: Format = FileFormat.json,
) -> Any:
    """The borough is the one the custody suite serves; a return counts whole periods."""
    async with ctx.unit_of_work() as uow:
        lines = await measures.k4(uow, since, until, borough, ctx.principal.covers, per, by)
    rows = [
        K4Row(period=x.period, borough=x.borough, suite=x.suite, group=x.group, **x.counts) for x in lines
    ]
    table = Table("K4 arrest referral", K4_COLUMNS, [], K4_DEFINITIONS)
    return file_or_rows(table, rows, file_format, f"k4-{per}{f'-by-{by}' if by else ''}-{since}-{until}")

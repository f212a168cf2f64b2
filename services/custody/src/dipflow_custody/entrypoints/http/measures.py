"""/v1/measures: K5, tests performed and their kit cost, by suite and period, as JSON or as CSV and XLSX files."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dipflow.exports import FileFormat, Table
from dipflow.http.files import FILE_RESPONSES, Format, file_or_rows
from dipflow.http.params import Day
from dipflow.periods import Granularity, bounds, period_of
from dipflow_custody.entrypoints.http.deps import MeasureReader, Settings
from dipflow_custody.entrypoints.http.schemas import K5Row
from dipflow_custody.service_layer import reference

router = APIRouter(prefix="/v1/measures", tags=["measures"])
K5_COLUMNS = (
    ("period", "Period"),
    ("suite", "Custody suite"),
    ("tests", "Tests"),
    ("kit_cost_gbp", "Kit cost (GBP)"),
)


@router.get(
    "/k5",
    response_model=list[K5Row],
    responses=FILE_RESPONSES,
    summary="K5: tests performed and kit cost by suite and period",
)
async def k5(
    ctx: MeasureReader,
    settings: Settings,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    per: Annotated[Granularity, Query(description="month, quarter (financial year) or financial_year")] = (
        Granularity.month
    ),
    file_format: Format = FileFormat.json,
) -> Any:
    """A return counts whole periods: months add up to quarters and financial years."""
    first, last = bounds(period_of(since, per))[0], bounds(period_of(until, per))[1]
    async with ctx.unit_of_work() as uow:
        rows = await reference.tests_by_suite_and_month(uow, first, last)
    tests: Counter[tuple[str, str]] = Counter()
    for r in rows:
        tests[(period_of(date(int(r.month[:4]), int(r.month[5:7]), 1), per), r.suite)] += r.tests
    kit = settings.kit_cost_gbp
    found = [
        K5Row(suite=suite, period=period, tests=n, kit_cost_gbp=kit * n)
        for (period, suite), n in sorted(tests.items())
    ]
    definitions = (
        f"K5: samples taken at each custody suite (the day the sample was taken, Europe/London) and their kit cost "
        f"at GBP {kit} a kit.",
    )
    table = Table("K5 tests and kit cost", K5_COLUMNS, [], definitions)
    return file_or_rows(table, found, file_format, f"k5-{per}-{since}-{until}")

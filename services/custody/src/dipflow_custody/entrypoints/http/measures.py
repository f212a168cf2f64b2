"""/v1/measures: K5, tests performed and their kit cost, by suite and period, as JSON or as CSV and XLSX files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow.exports import FileFormat, Table
from dipflow.http.access import AuthContext
from dipflow.http.files import FILE_RESPONSES, Format, file_or_rows
from dipflow.http.params import Day
from dipflow.http.problems import Problem
from dipflow.periods import Granularity
from dipflow.uow import UnitOfWork
from dipflow_custody.domain.costs import Costs
from dipflow_custody.entrypoints.http.deps import MeasureReader, Settings
from dipflow_custody.entrypoints.http.schemas import K5Row
from dipflow_custody.service_layer import reference

router = APIRouter(prefix="/v1/measures", tags=["measures"])
K5_COLUMNS = (
    ("period", "Period"),
    ("suite", "Custody suite"),
    ("tests", "Tests"),
    ("kit_cost_gbp", "Kit cost (GBP)"),
    ("set_up_cost_gbp", "Set-up cost (GBP)"),
    ("total_cost_gbp", "Total cost (GBP)"),
)


async def _covered_suites(uow: UnitOfWork, ctx: AuthContext) -> Callable[[str], bool]:
    """Whether the caller covers a suite's borough (a suite the reference data does not know: national only)."""
    boroughs = {code: suite.borough for code, suite in (await reference.current_suites(uow)).items()}
    return lambda suite: (
        ctx.principal.covers(boroughs[suite]) if suite in boroughs else ctx.principal.national
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
    costs = Costs(
        settings.kit_cost_gbp,
        settings.testing_machine_cost_gbp,
        settings.training_session_cost_gbp,
        settings.officers_per_training_session,
        settings.officers_trained_per_suite,
    )
    async with ctx.unit_of_work() as uow:
        lines = await reference.k5_lines(uow, since, until, per, costs, await _covered_suites(uow, ctx))
    found = [
        K5Row(
            suite=x.suite,
            period=x.period,
            tests=x.tests,
            kit_cost_gbp=x.kit_cost,
            set_up_cost_gbp=x.set_up_cost,
            total_cost_gbp=x.total_cost,
        )
        for x in lines
    ]
    definitions = (
        f"K5: samples taken at each custody suite (the day the sample was taken, Europe/London) and their kit cost "
        f"at GBP {costs.kit} a kit.",
        f"Set-up cost, in the period of a suite's first test: its testing machine (GBP {costs.machine}) and the "
        f"training of {costs.officers_per_suite} officers in sessions of up to {costs.officers_per_session} (GBP "
        f"{costs.training_session} a session): GBP {costs.set_up} a suite.",
    )
    table = Table("K5 tests and kit cost", K5_COLUMNS, [], definitions)
    return file_or_rows(table, found, file_format, f"k5-{per}-{since}-{until}")


TESTING_COLUMNS = (
    ("period", "Period"),
    ("suite", "Custody suite"),
    ("arrests", "Arrests"),
    ("trigger_arrests", "Trigger-offence arrests"),
    ("tests_required", "Tests required"),
    ("tests_taken", "Tests taken"),
    ("tests_refused", "Tests refused"),
    ("tests_missed", "Tests missed"),
)
TESTING_DEFINITIONS = (
    "Testing compliance by custody suite, by the London day the person was booked in.",
    "Trigger-offence arrests: an offence recorded was a trigger offence on its date (T1). Tests required: the "
    "decision was that a sample must be taken (T1-T5) when it was taken or refused, else when the person was "
    "released. Missed: required, neither taken nor refused, and the person released or the time limit to hold "
    "them for a sample passed (T10).",
)


class TestingRow(BaseModel):
    period: str
    suite: str
    arrests: int
    trigger_arrests: int
    tests_required: int
    tests_taken: int
    tests_refused: int
    tests_missed: int


@router.get(
    "/testing",
    response_model=list[TestingRow],
    responses=FILE_RESPONSES,
    summary="Testing compliance by suite and period: trigger arrests, tests required, taken, refused, missed",
)
async def testing(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")],
    until: Annotated[Day, Query(alias="to")],
    per: Annotated[Granularity, Query(description="month, quarter (financial year) or financial_year")] = (
        Granularity.month
    ),
    file_format: Format = FileFormat.json,
) -> Any:
    """A return counts whole periods; each detention is judged on its own facts' times."""
    if until < since or (until - since).days > 3 * 366:
        raise Problem(
            422,
            "the period must end after it starts and span at most three years",
            errors=[{"field": "query.to", "reason": "before from, or more than three years after it"}],
        )
    async with ctx.unit_of_work() as uow:
        lines = await reference.testing_compliance(uow, since, until, per)
        covered = await _covered_suites(uow, ctx)
    rows = [TestingRow(period=x.period, suite=x.suite, **x.counts) for x in lines if covered(x.suite)]
    table = Table("Testing compliance by suite", TESTING_COLUMNS, [], TESTING_DEFINITIONS)
    return file_or_rows(table, rows, file_format, f"testing-{per}-{since}-{until}")

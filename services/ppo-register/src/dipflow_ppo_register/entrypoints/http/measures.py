"""/v1/measures: K1 and K2 (docs/rules.md K) for managers and analysts, by month, financial-year quarter or
financial year, as JSON or as CSV and XLSX files; /v1/targets: each borough's K1 baseline and target, set by
analysts. Counts only, no person ids."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.exports import FileFormat, Table
from dipflow.http.access import AuthContext
from dipflow.http.files import FILE_RESPONSES, Format, checked_period, file_or_rows
from dipflow.http.params import Day
from dipflow.http.problems import Problem
from dipflow.periods import PERIOD_PATTERN, Granularity
from dipflow_ppo_register.domain.measures import ALL_BOROUGHS, K1_TARGET_INCREASE, Target
from dipflow_ppo_register.entrypoints.http.deps import MeasureReader, Settings, TargetSetter
from dipflow_ppo_register.service_layer import lists, targets

router = APIRouter(prefix="/v1", tags=["measures"])
K1_DEFINITIONS = (
    "K1 (MPS Drugs Strategy 2007-10, 5.1.1): PPOs considered for DIP intervention through an inspector's "
    "drug test authorisation.",
    "PPOs considered: different people on the PPO register (in the borough of their register period on the day "
    "of arrest) arrested for an offence that is not a trigger offence whose test was put to an inspector (T3/T4).",
    "Inspector decisions: such arrests with a decision, authorised or declined. Share: decisions per PPO "
    "non-trigger arrest (the second line).",
    "Baseline: the borough's baseline period, pro rata to the period's months; target: the baseline increased by "
    "the target increase (the strategy's: 50%).",
    "Periods: calendar months, financial-year quarters (Q1 April-June) and financial years (April-March), "
    "Europe/London days.",
)
K1_COLUMNS = (
    ("period", "Period"),
    ("borough", "Borough (* all)"),
    ("ppos_considered", "PPOs considered"),
    ("inspector_decisions", "Inspector decisions"),
    ("authorised", "Authorised"),
    ("declined", "Declined"),
    ("ppo_non_trigger_arrests", "PPO non-trigger arrests"),
    ("share", "Share put to an inspector"),
    ("baseline_period", "Baseline period"),
    ("baseline_ppos_considered", "Baseline PPOs considered (pro rata)"),
    ("target_increase", "Target increase"),
    ("target_ppos_considered", "Target PPOs considered"),
    ("target_met", "Target met"),
    ("change_relative", "Change against baseline"),
    ("baseline_share", "Baseline share"),
    ("share_change_points", "Share change (points)"),
)
K2_DEFINITIONS = (
    "K2 (MPS Drugs Strategy 2007-10, 5.1.2): PPOs prosecuted for failing to attend or remain for a required "
    "assessment (DA05 s.12(3), s.14(3)), and PPOs arrested for breaking a restriction-on-bail condition "
    "(BA76 s.7(3)), in the borough of their register period on the day.",
    "What followed each PPO's failure to attend or remain notified to the police (counted in the period of the "
    "failure): charged for failing since, arrested for it and released with no further action, or neither yet.",
)
K2_COLUMNS = (
    ("period", "Period"),
    ("borough", "Borough (* all)"),
    ("prosecuted_for_failing_to_attend", "Prosecutions for failing to attend or remain"),
    ("people_prosecuted", "PPOs prosecuted"),
    ("arrested_for_breaking_bail_condition", "Arrests for breaking a bail condition"),
    ("people_arrested", "PPOs arrested"),
    ("failures_notified", "Failures to attend notified"),
    ("failures_charged", "Then charged"),
    ("failures_no_further_action", "Then no further action"),
    ("failures_pending", "Not yet decided"),
)


class K1Row(BaseModel):
    period: str
    borough: str
    ppos_considered: int = Field(description="Different PPOs whose non-trigger arrest went to an inspector")
    inspector_decisions: int
    authorised: int
    declined: int
    ppo_non_trigger_arrests: int
    share: float | None = Field(
        description="Inspector decisions per PPO non-trigger arrest (the second line)"
    )
    baseline_period: str | None
    baseline_ppos_considered: float | None = Field(description="Pro rata to this period's months")
    baseline_share: float | None
    change_relative: float | None = Field(description="PPOs considered against the baseline")
    share_change_points: float | None
    target_increase: float | None
    target_ppos_considered: float | None
    target_met: bool | None


class K2Row(BaseModel):
    period: str
    borough: str
    prosecuted_for_failing_to_attend: int
    people_prosecuted: int
    arrested_for_breaking_bail_condition: int
    people_arrested: int
    failures_notified: int = Field(
        description="PPOs' failures to attend or remain notified to the police (A4, A5)"
    )
    failures_charged: int = Field(description="Of those: charged for failing (DA05 s.12(3), s.14(3)) since")
    failures_no_further_action: int = Field(
        description="Of those: arrested for it and released, no further action"
    )
    failures_pending: int = Field(description="Of those: neither yet")


class TargetIn(BaseModel):
    baseline_period: str = Field(pattern=PERIOD_PATTERN, examples=["2007/08 Q1"])
    increase: float = Field(K1_TARGET_INCREASE, ge=-1, le=100, description="0.5 is the strategy's +50%")


class TargetView(TargetIn):
    measure: str
    borough: str


def _visible(ctx: AuthContext, borough: str, wanted: str | None) -> bool:
    if wanted is not None:
        return borough == wanted
    if borough == ALL_BOROUGHS:
        return ctx.principal.national
    return ctx.principal.covers(borough)


def _range(since: date, until: date) -> None:
    if until < since:
        raise Problem(
            422, "the period ends before it starts", errors=[{"field": "query.to", "reason": "before from"}]
        )


Since = Annotated[Day, Query(alias="from")]
Until = Annotated[Day, Query(alias="to")]
Per = Annotated[Granularity, Query(description="month, quarter (financial year) or financial_year")]


@router.get(
    "/measures/k1",
    response_model=list[K1Row],
    responses=FILE_RESPONSES,
    summary="K1: PPOs considered through an inspector's authorisation, by period and borough, against targets",
)
async def k1(
    ctx: MeasureReader,
    settings: Settings,
    since: Since = date(2001, 1, 1),
    until: Until = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
    per: Per = Granularity.month,
    baseline: str | None = Query(
        None, max_length=12, description="A baseline period for boroughs without a target of their own"
    ),
    file_format: Format = FileFormat.json,
) -> Any:
    """Each borough is measured against its target (PUT /v1/targets/k1/{borough}); one without is measured
    against ``baseline`` (or the setting) with the strategy's +50%."""
    _range(since, until)
    default_baseline = checked_period(baseline, "query.baseline") if baseline else settings.k1_baseline_period
    async with ctx.unit_of_work() as uow:
        set_targets = await targets.targets_of(uow, "k1")
        fallback = Target(default_baseline) if default_baseline else None
        rows = await lists.k1_rows(
            uow,
            since,
            until,
            per,
            lambda b: set_targets.get(b, fallback),
            [t.baseline_period for t in set_targets.values()]
            + ([default_baseline] if default_baseline else []),
        )
    found = [K1Row(**asdict(r)) for r in rows if _visible(ctx, r.borough, borough)]
    table = Table("K1 PPOs considered through an inspector", K1_COLUMNS, [], K1_DEFINITIONS)
    return file_or_rows(table, found, file_format, f"k1-{per}-{since}-{until}")


@router.get(
    "/measures/k2",
    response_model=list[K2Row],
    responses=FILE_RESPONSES,
    summary="K2: PPOs prosecuted for failing to attend assessments, and arrested for breaking a bail condition",
)
async def k2(
    ctx: MeasureReader,
    since: Since = date(2001, 1, 1),
    until: Until = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
    per: Per = Granularity.month,
    file_format: Format = FileFormat.json,
) -> Any:
    _range(since, until)
    async with ctx.unit_of_work() as uow:
        rows = await lists.k2_rows(uow, since, until, per)
    found = [K2Row(**asdict(r)) for r in rows if _visible(ctx, r.borough, borough)]
    table = Table("K2 PPOs prosecuted or arrested", K2_COLUMNS, [], K2_DEFINITIONS)
    return file_or_rows(table, found, file_format, f"k2-{per}-{since}-{until}")


@router.put(
    "/targets/k1/{borough}",
    response_model=TargetView,
    summary="Set a borough's K1 baseline period and target increase (analysts; audited)",
)
async def set_k1_target(borough: str, body: TargetIn, ctx: TargetSetter) -> TargetView:
    checked_period(body.baseline_period, "body.baseline_period")
    async with ctx.unit_of_work() as uow:
        await targets.set_target(
            uow, "k1", borough, Target(body.baseline_period, body.increase), ctx.principal.subject
        )
    return TargetView(measure="k1", borough=borough, **body.model_dump())


@router.get("/targets/k1", response_model=list[TargetView], summary="The boroughs' K1 baselines and targets")
async def k1_targets(
    ctx: MeasureReader, borough: str | None = Query(None, max_length=60)
) -> list[TargetView]:
    async with ctx.unit_of_work() as uow:
        found = await targets.targets_of(uow, "k1")
    return [
        TargetView(measure="k1", borough=b, baseline_period=t.baseline_period, increase=t.increase)
        for b, t in sorted(found.items())
        if _visible(ctx, b, borough)
    ]

"""/v1/measures: K1 and K2 (docs/rules.md K) for managers and analysts: counts only, no person ids."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow.http.access import AuthContext
from dipflow.http.params import Day
from dipflow.http.problems import Problem
from dipflow_ppo_register.domain.measures import ALL_BOROUGHS, K1_TARGET_INCREASE
from dipflow_ppo_register.entrypoints.http.deps import MeasureReader, Settings
from dipflow_ppo_register.service_layer import lists

router = APIRouter(prefix="/v1/measures", tags=["measures"])
MONTH = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])$"  # year 0 is no year


class K1Row(BaseModel):
    month: str
    borough: str
    ppo_non_trigger_arrests: int
    inspector_decisions: int
    share: float | None
    baseline_month: str | None
    baseline_share: float | None
    change_points: float | None
    change_relative: float | None
    target_increase: float
    target_met: bool | None


class K2Row(BaseModel):
    month: str
    borough: str
    prosecuted_for_failing_to_attend: int
    people_prosecuted: int
    arrested_for_breaking_bail_condition: int
    people_arrested: int


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


@router.get(
    "/k1",
    response_model=list[K1Row],
    summary="K1: share of PPO arrests for non-trigger offences that went to an inspector, by month and borough",
)
async def k1(
    ctx: MeasureReader,
    settings: Settings,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
    baseline: str | None = Query(None, pattern=MONTH, description="Baseline month; the setting if omitted"),
) -> list[K1Row]:
    """The change against the baseline month is in points (``change_points``) and relative
    (``change_relative``); the strategy's target is a 50% increase."""
    _range(since, until)
    baseline = baseline or settings.k1_baseline_month
    async with ctx.unit_of_work() as uow:
        rows = await lists.k1_rows(uow, since, until, baseline)
    return [
        K1Row(**r.__dict__, baseline_month=baseline, target_increase=K1_TARGET_INCREASE)
        for r in rows
        if _visible(ctx, r.borough, borough)
    ]


@router.get(
    "/k2",
    response_model=list[K2Row],
    summary="K2: PPOs prosecuted for failing to attend assessments, and arrested for breaking a bail condition",
)
async def k2(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
) -> list[K2Row]:
    _range(since, until)
    async with ctx.unit_of_work() as uow:
        rows = await lists.k2_rows(uow, since, until)
    return [K2Row(**r.__dict__) for r in rows if _visible(ctx, r.borough, borough)]

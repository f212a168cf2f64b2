"""A person's PPO status, and what is still owed at a suite (inspector decisions, written confirmations, overdue confirmatory results)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from dipflow_custody.entrypoints.http.deps import PpoStatusReader, SuiteReader
from dipflow_custody.entrypoints.http.schemas import (
    DetentionView,
    OpenItem,
    PpoStatusView,
    detention_view,
)
from dipflow_custody.service_layer import detentions, reference

router = APIRouter(prefix="/v1", tags=["reference data"])


@router.get(
    "/ppo-status/{person_id:path}",
    response_model=PpoStatusView,
    summary="T4: whether custody knows the person as a PPO (its copy of the register)",
)
async def ppo_status(person_id: str, ctx: PpoStatusReader) -> PpoStatusView:
    async with ctx.unit_of_work() as uow:
        borough = await reference.ppo_borough(uow, person_id)
    return PpoStatusView(person_id=person_id, is_ppo=borough is not None, borough=borough)


async def _suite_area(ctx: SuiteReader, suite: str) -> None:
    async with ctx.unit_of_work() as uow:
        area = await reference.suite_area(uow, suite)
    ctx.require_area(area)


@router.get(
    "/open-items",
    response_model=list[OpenItem],
    summary="What custody and inspectors still owe at a suite: inspector decisions, written confirmations, "
    "overdue confirmatory results, RA1 to serve",
)
async def open_items(
    ctx: SuiteReader, suite: str = Query(..., min_length=2, max_length=60)
) -> list[OpenItem]:
    await _suite_area(ctx, suite)
    async with ctx.unit_of_work() as uow:
        items = await detentions.open_items(uow, suite)
    return [OpenItem(**vars(item)) for item in items]


@router.get(
    "/inspector-requests",
    response_model=list[DetentionView],
    summary="T4: detentions in a suite waiting for an inspector's test decision",
)
async def inspector_requests(
    ctx: SuiteReader, suite: str = Query(..., min_length=2, max_length=60)
) -> list[DetentionView]:
    await _suite_area(ctx, suite)
    async with ctx.unit_of_work() as uow:
        waiting = await detentions.open_inspector_requests(uow, suite)
    return [detention_view(outcome) for outcome in waiting]

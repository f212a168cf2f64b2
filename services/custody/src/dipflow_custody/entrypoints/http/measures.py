"""/v1/measures: K5, tests performed and their kit cost."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from dipflow.http.params import Day
from dipflow_custody.entrypoints.http.deps import MeasureReader, Settings
from dipflow_custody.entrypoints.http.schemas import K5Row
from dipflow_custody.service_layer import reference

router = APIRouter(prefix="/v1/measures", tags=["measures"])


@router.get("/k5", response_model=list[K5Row], summary="K5: tests performed and kit cost by suite and month")
async def k5(
    ctx: MeasureReader,
    settings: Settings,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
) -> list[K5Row]:
    async with ctx.unit_of_work() as uow:
        rows = await reference.tests_by_suite_and_month(uow, since, until)
    kit = settings.kit_cost_gbp
    return [K5Row(suite=r.suite, month=r.month, tests=r.tests, kit_cost_gbp=kit * r.tests) for r in rows]

"""/v1/measures/k3: time to arrest (K3, D6), with its distribution."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow.http.params import Day
from dipflow_breach.entrypoints.http.deps import MeasureReader
from dipflow_breach.service_layer import arrests

router = APIRouter(prefix="/v1/measures", tags=["measures"])


class K3Group(BaseModel):
    source: str
    borough: str
    ppo: bool
    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    max_hours: float | None
    within_target: int
    buckets: dict[str, int]
    still_open: int


@router.get("/k3", response_model=list[K3Group], summary="K3: time to arrest, with its distribution")
async def k3(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
) -> list[K3Group]:
    """By source, borough and PPO status, for requests made in the period."""
    async with ctx.unit_of_work() as uow:
        rows = await arrests.time_to_arrest(uow, since, until, ctx.principal.covers)
    return [
        K3Group(
            source=row.source,
            borough=row.borough,
            ppo=row.ppo,
            **row.distribution.__dict__,
            still_open=row.still_open,
        )
        for row in rows
    ]

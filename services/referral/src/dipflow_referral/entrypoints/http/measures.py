"""/v1/measures/k4: K4 arrest referral measures by month, borough and custody suite (counts only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.http.params import Day
from dipflow_referral.entrypoints.http.deps import MeasureReader
from dipflow_referral.service_layer import measures

router = APIRouter(prefix="/v1/measures", tags=["measures"])


class K4Row(BaseModel):
    month: str
    borough: str
    suite: str
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


@router.get(
    "/k4", response_model=list[K4Row], summary="K4: tests, positives, requirements, attendance, treatment"
)
async def k4(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
) -> list[K4Row]:
    """The borough is the one the custody suite serves."""
    async with ctx.unit_of_work() as uow:
        lines = await measures.k4(uow, since, until, borough, ctx.principal.covers)
    return [K4Row(month=x.month, borough=x.borough, suite=x.suite, **x.counts) for x in lines]

"""/v1/breach-cases: an area's breach cases, and the enforcement action and hearing recorded on one (D4)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow.http.params import AwareInstant, Day
from dipflow_breach.entrypoints.http.deps import AreaLiaison, CaseLiaison
from dipflow_breach.entrypoints.http.schemas import BreachCaseView, case_view
from dipflow_breach.service_layer import cases
from dipflow_breach.service_layer.cases import EnforcementAction

router = APIRouter(prefix="/v1/breach-cases", tags=["breach cases"])


class EnforcementIn(BaseModel):
    action: EnforcementAction
    at: AwareInstant | None = None


class HearingIn(BaseModel):
    on: Day


@router.get(
    "", response_model=list[BreachCaseView], summary="Breach cases of an area, with due dates and escalations"
)
async def list_cases(ctx: AreaLiaison, area: str = Query(..., max_length=60)) -> list[BreachCaseView]:
    async with ctx.reading() as uow:
        found = await cases.in_area(uow, area)
    return [case_view(c) for c in found]


@router.post("/{case_id}/enforcement", status_code=204, summary="D4: enforcement action taken")
async def enforcement(case_id: str, body: EnforcementIn, ctx: CaseLiaison) -> None:
    command = cases.RecordEnforcement(case_id, body.action, body.at or datetime.now(UTC))
    async with ctx.unit_of_work() as uow:
        await cases.record_enforcement(uow, command, ctx.require_area)


@router.post("/{case_id}/hearing", status_code=204, summary="D4: first breach hearing held")
async def hearing(case_id: str, body: HearingIn, ctx: CaseLiaison) -> None:
    async with ctx.unit_of_work() as uow:
        await cases.record_hearing(uow, cases.RecordHearing(case_id, body.on), ctx.require_area)

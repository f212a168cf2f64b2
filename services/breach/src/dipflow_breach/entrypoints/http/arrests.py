"""/v1/arrest-requests: an area's arrest requests, for police enforcement of the borough and probation liaison."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow_breach.entrypoints.http.deps import AreaEnforcement
from dipflow_breach.service_layer import arrests

router = APIRouter(prefix="/v1/arrest-requests", tags=["arrest requests"])


class ArrestRequestView(BaseModel):
    request_id: str
    person_id: str
    source: str
    source_ref: str
    area: str
    basis: str
    rule_ids: list[str]
    premium: bool
    ppo: bool
    requested_at: datetime
    deadline_at: datetime
    escalated_at: datetime | None
    arrested_at: datetime | None
    arrest_detention_id: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None


@router.get(
    "",
    response_model=list[ArrestRequestView],
    summary="Arrest requests of an area (police enforcement: their borough)",
)
async def list_arrests(
    ctx: AreaEnforcement,
    area: str = Query(..., max_length=60),
    open_only: bool = Query(False, alias="open"),
) -> list[ArrestRequestView]:
    async with ctx.reading() as uow:
        found = await arrests.in_area(uow, area, open_only=open_only)
    return [ArrestRequestView.model_validate(r, from_attributes=True) for r in found]

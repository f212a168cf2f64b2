"""/v1/unassigned: appointments no worker could take (A9), for the managers of their area."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from dipflow_referral.domain.assessment import Kind
from dipflow_referral.entrypoints.http.deps import AreaManagers
from dipflow_referral.service_layer import workers

router = APIRouter(prefix="/v1/unassigned", tags=["required assessments"])


class QueuedView(BaseModel):
    assessment_id: str
    kind: Kind
    suite: str
    area: str
    appointment_at: datetime


@router.get("", response_model=list[QueuedView], summary="Appointments no worker could take (A9)")
async def unassigned(ctx: AreaManagers, area: str | None = Query(None, max_length=60)) -> list[QueuedView]:
    async with ctx.unit_of_work() as uow:
        queued = await workers.unassigned(uow, area, ctx.principal.covers)
    return [
        QueuedView(
            assessment_id=q.assessment_id,
            kind=q.kind,
            suite=q.suite,
            area=q.area,
            appointment_at=q.appointment_at,
        )
        for q in queued
    ]

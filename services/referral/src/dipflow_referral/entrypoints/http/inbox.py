"""/v1/inbox: a worker's open assignments, and a live stream of new ones (server-sent events, A9)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from dipflow.http.params import Day
from dipflow_referral.domain.assessment import Kind, Status
from dipflow_referral.entrypoints.http.deps import Streams, Worker, own_worker_id
from dipflow_referral.service_layer import inbox

router = APIRouter(prefix="/v1/inbox", tags=["worker inbox"])


class InboxItem(BaseModel):
    assessment_id: str
    kind: Kind
    appointment_at: datetime
    place: str | None
    status: Status
    suite: str
    person_id: str
    overdue: bool = Field(
        False, description="Its time has passed with no attendance recorded: an open alert (A4/A5)"
    )


@router.get("", response_model=list[InboxItem], summary="Your open assignments (filter by day and state)")
async def my_inbox(ctx: Worker, day: Day | None = None, state: Status | None = None) -> list[InboxItem]:
    worker_id = await own_worker_id(ctx)
    async with ctx.reading() as uow:
        items = await inbox.open_items(uow, worker_id, day, state)
    return [
        InboxItem(
            assessment_id=i.assessment_id,
            kind=i.kind,
            appointment_at=i.appointment_at,
            place=i.place,
            status=i.status,
            suite=i.suite,
            person_id=i.person_id,
            overdue=i.overdue,
        )
        for i in items
    ]


@router.get(
    "/stream",
    summary="Live: a server-sent event for each new assignment",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def my_inbox_stream(ctx: Worker, streams: Streams) -> StreamingResponse:
    worker_id = await own_worker_id(ctx)
    return StreamingResponse(
        streams.stream(worker_id),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )

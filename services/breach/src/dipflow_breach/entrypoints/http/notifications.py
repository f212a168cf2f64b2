"""/v1/liaison/{area}/webhook and /v1/notifications: where probation liaison of an area is notified, and the
feed of every notice (stable ids, a cursor), whatever the webhook did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.http.params import BIGINT_MAX
from dipflow_breach.entrypoints.http.deps import AreaLiaison
from dipflow_breach.service_layer.notifications import feed_page, set_webhook

router = APIRouter(prefix="/v1", tags=["notifications"])


class WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(min_length=16, max_length=200)


class FeedItem(BaseModel):
    seq: int
    notification_id: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    dead_lettered_at: datetime | None
    last_error: str | None


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_after: int | None


@router.put(
    "/liaison/{area}/webhook", status_code=204, summary="Where probation liaison of an area is notified"
)
async def put_webhook(area: str, body: WebhookIn, ctx: AreaLiaison) -> None:
    async with ctx.unit_of_work() as uow:
        await set_webhook(uow, area, body.url, body.secret)


@router.get("/notifications", response_model=FeedPage, summary="The notification feed (stable ids; cursor)")
async def notifications(
    ctx: AreaLiaison,
    area: str = Query(..., max_length=60),
    after: int = Query(0, ge=0, le=BIGINT_MAX, description="The seq of the last item you have"),
    limit: int = Query(100, ge=1, le=500),
) -> FeedPage:
    async with ctx.unit_of_work() as uow:
        found = await feed_page(uow, area, after=after, limit=limit)
    return FeedPage(
        items=[FeedItem.model_validate(n, from_attributes=True) for n in found],
        next_after=found[-1].seq if len(found) == limit else None,
    )

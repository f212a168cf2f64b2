"""/v1/teams: a team's webhook for new assignments (signed, retried) and what was delivered to it (A9)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from dipflow_referral.contracts.webhooks import TeamAssignment
from dipflow_referral.entrypoints.http.deps import AreaManagers
from dipflow_referral.service_layer import teams

router = APIRouter(prefix="/v1/teams", tags=["workers"])


class WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(
        min_length=16, max_length=200, description="Shared secret for the HMAC-SHA256 signature"
    )


class DeliveryView(BaseModel):
    id: int
    body: TeamAssignment
    attempts: int
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@router.put("/{area}/webhook", status_code=204, summary="Set the team's webhook for new assignments")
async def put_webhook(area: str, body: WebhookIn, ctx: AreaManagers) -> None:
    async with ctx.unit_of_work() as uow:
        await teams.set_webhook(uow, area, body.url, body.secret)


@router.get(
    "/{area}/webhook-deliveries", response_model=list[DeliveryView], summary="Recent webhook deliveries"
)
async def deliveries(area: str, ctx: AreaManagers) -> list[DeliveryView]:
    async with ctx.unit_of_work() as uow:
        found = await teams.deliveries(uow, area)
    return [
        DeliveryView(
            id=d.id,
            body=d.body,
            attempts=d.attempts,
            delivered_at=d.delivered_at,
            failed_at=d.failed_at,
            last_error=d.last_error,
        )
        for d in found
    ]

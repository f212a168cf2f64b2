"""A team's (an area's workers') webhook for new assignments, and what was delivered to it (A9)."""

from __future__ import annotations

from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import webhooks


async def set_webhook(uow: UnitOfWork, area: str, url: str, secret: str) -> None:
    await webhooks.set_for_team(uow, area, url, secret)
    await uow.audit("team.webhook", detail={"area": area})


async def deliveries(uow: UnitOfWork, area: str) -> list[webhooks.Delivery]:
    """The team's latest deliveries: attempts, the last error, and whether one was given up."""
    return await webhooks.recent(uow, area)

"""A worker's inbox: their open assignments (A9). Reads are audited; the live stream is fed on commit."""

from __future__ import annotations

from datetime import date

from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import views, workers
from dipflow_referral.domain.assessment import Status


async def team_of(uow: UnitOfWork, worker_id: str) -> str | None:
    """The area of the worker's team, None for a worker not (yet) recorded."""
    return await workers.area_of(uow, worker_id)


async def open_items(
    uow: UnitOfWork, worker_id: str, day: date | None, state: Status | None
) -> list[views.InboxItem]:
    items = await views.inbox(uow, worker_id, day, state)
    await uow.audit("inbox.read", detail={"returned": len(items)})
    return items

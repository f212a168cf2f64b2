"""Notifications to probation liaison: every notice goes into its area's feed with a stable id, so nothing
depends on the webhook alone; where the area has a webhook, its first delivery attempt is queued in the same
unit of work, and :mod:`dipflow.webhooks` delivers it signed, retries it and gives up after the last attempt
(the notice stays in the feed, marked)."""

from __future__ import annotations

from datetime import UTC, datetime

from dipflow.uow import UnitOfWork
from dipflow.webhooks import Attempt, TableDeliveries
from dipflow_breach.adapters import feed
from dipflow_breach.contracts.events import NotificationDeadLettered
from dipflow_breach.domain.notices import Notice, Notification

LIAISON_WEBHOOK = "breach.liaison_webhook"
"""The timer of one delivery attempt of a feed row to its area's webhook."""


async def notify(uow: UnitOfWork, notice: Notice) -> None:
    """The notice in its area's feed, and its first delivery attempt queued where the area has a webhook."""
    webhook = await feed.has_webhook(uow, notice.area)
    await feed.add(uow, notice, delivered_by=LIAISON_WEBHOOK if webhook else None)


async def set_webhook(uow: UnitOfWork, area: str, url: str, secret: str) -> None:
    """Where probation liaison of ``area`` is notified from now on (signed with ``secret``)."""
    await feed.set_webhook(uow, area, url, secret)
    await uow.audit("liaison.webhook", detail={"area": area})


async def feed_page(uow: UnitOfWork, area: str, *, after: int, limit: int) -> list[Notification]:
    """The area's notices after the seq ``after``, in order, at most ``limit``."""
    found = await feed.page(uow, area, after, limit)
    await uow.audit("notifications.read", detail={"area": area, "returned": len(found)})
    return found


async def dead_lettered(uow: UnitOfWork, key: str, attempt: Attempt) -> None:
    """The last attempt failed: ``breach.notification_dead_lettered`` tells whoever watches the deliveries."""
    sent = await feed.sent_to(uow, int(key))
    if sent is None:
        return
    notification_id, area, person_id = sent
    dead = NotificationDeadLettered(
        notification_id=notification_id, area=area, attempts=attempt.number, last_error=attempt.error or ""
    )
    await uow.emit(person_id, [(dead, datetime.now(UTC))])


LIAISON_DELIVERIES = TableDeliveries(feed.DELIVERIES, on_given_up=dead_lettered)

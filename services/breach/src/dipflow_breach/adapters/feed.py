"""The notification feed of probation liaison (one row per notice, a stable id, the delivery so far), the areas'
webhooks, and the store the one webhook engine (:mod:`dipflow.webhooks`) delivers the feed's rows from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from dipflow.uow import UnitOfWork
from dipflow.webhooks import DeliveryTable, queue_with_first_attempt
from dipflow_breach.domain.notices import Notice, Notification

_ADD = "INSERT INTO notifications (notification_id, area, person_id, kind, body) VALUES ($1, $2, $3, $4, $5)"


async def add(uow: UnitOfWork, notice: Notice, *, delivered_by: str | None = None) -> None:
    """The notice in its area's feed, under a new stable id, queued with the transaction's other writes (a
    consumer's batch writes them together, in the order queued, so an area's feed keeps the order of its
    notices); with ``delivered_by`` (a delivery timer's kind) also its first delivery attempt, naming its place
    in the feed (seq), in the same statement."""
    notification_id = uuid.uuid4()
    values = (
        notification_id,
        notice.area,
        notice.person_id,
        notice.kind,
        notice.message(str(notification_id), datetime.now(UTC)),
    )
    if delivered_by is None:
        await uow.execute(_ADD, *values)
    else:
        await queue_with_first_attempt(uow, delivered_by, _ADD + " RETURNING seq", *values)


async def has_webhook(uow: UnitOfWork, area: str) -> bool:
    return await DELIVERIES.has_receiver(uow, area)


async def set_webhook(uow: UnitOfWork, area: str, url: str, secret: str) -> None:
    await DELIVERIES.set_receiver(uow, area, url, secret)


def _notification(row: asyncpg.Record) -> Notification:
    return Notification(**{**dict(row), "notification_id": str(row["notification_id"])})


async def page(uow: UnitOfWork, area: str, after: int, limit: int) -> list[Notification]:
    """The area's notifications after ``after`` (a seq), in order, at most ``limit``."""
    rows = await uow.conn.fetch(
        "SELECT seq, notification_id, kind, body, created_at, attempts, delivered_at, dead_lettered_at, "
        "last_error FROM notifications WHERE area = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        area,
        after,
        limit,
    )
    return [_notification(r) for r in rows]


DELIVERIES = DeliveryTable(
    table="notifications",
    key="seq",
    receivers="liaison_webhooks",
    given_up="dead_lettered_at",
    delivery_id="notification_id",
)
"""A delivery is a feed row (key: its seq) sent to its area's webhook; given up, the row is marked
dead-lettered and stays in the feed."""


async def sent_to(uow: UnitOfWork, seq: int) -> tuple[str, str, str] | None:
    """(notification id, area, person) of the feed row ``seq``."""
    row = await uow.conn.fetchrow(
        "SELECT notification_id, area, person_id FROM notifications WHERE seq = $1", seq
    )
    return (str(row["notification_id"]), row["area"], row["person_id"]) if row is not None else None

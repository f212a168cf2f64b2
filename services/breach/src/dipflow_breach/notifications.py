"""Notifications to probation liaison: every one goes into a feed with a stable id (so nothing depends on the
webhook alone), and where the area has a webhook it is delivered signed (``dipflow.webhooks``), retried with
exponential backoff by durable timers, and dead-lettered after the last attempt (still visible in the feed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from dipflow.events import new_envelope
from dipflow.events.outbox import add_to_outbox
from dipflow.events.timers import Deadline, DeadlineHandler, schedule_deadline
from dipflow.logging import get_logger
from dipflow.webhooks import post_signed, retry_delay
from dipflow_breach.events import TOPIC, NotificationDeadLettered

log = get_logger("dipflow.breach.notifications")
KIND = "breach.liaison_webhook"


async def notify(
    conn: asyncpg.Connection, *, area: str, person_id: str, kind: str, body: dict[str, Any]
) -> uuid.UUID:
    """Put a notification in the feed and, if the area has a webhook, queue its first delivery attempt."""
    notification_id = uuid.uuid4()
    full = {"notification_id": str(notification_id), "kind": kind, "area": area, "person_id": person_id,
            "created_at": datetime.now(UTC).isoformat(), **body}  # fmt: skip
    seq = await conn.fetchval(
        "INSERT INTO notifications (notification_id, area, person_id, kind, body) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING seq",
        notification_id, area, person_id, kind, full,
    )  # fmt: skip
    if await conn.fetchval("SELECT 1 FROM liaison_webhooks WHERE area = $1", area):
        await schedule_deadline(conn, KIND, f"{seq}:1", datetime.now(UTC))
    return notification_id


def deliver(retry_base_s: float, max_attempts: int, timeout_s: float = 5.0) -> DeadlineHandler:
    async def attempt(conn: asyncpg.Connection, deadline: Deadline) -> None:
        seq, number = (int(x) for x in deadline.subject.split(":"))
        row = await conn.fetchrow(
            "SELECT n.notification_id, n.area, n.person_id, n.body, n.delivered_at, w.url, w.secret "
            "FROM notifications n JOIN liaison_webhooks w USING (area) WHERE n.seq = $1 FOR UPDATE OF n",
            seq,
        )
        if row is None or row["delivered_at"] is not None:
            return
        error = await post_signed(row["url"], row["secret"], orjson.dumps(row["body"]),
                                  delivery_id=str(row["notification_id"]), attempt=number, timeout_s=timeout_s)  # fmt: skip
        if error is None:
            await conn.execute(
                "UPDATE notifications SET delivered_at = now(), attempts = $2 WHERE seq = $1", seq, number
            )
            return
        if number >= max_attempts:
            await conn.execute(
                "UPDATE notifications SET dead_lettered_at = now(), attempts = $2, last_error = $3 WHERE seq = $1",
                seq, number, error,
            )  # fmt: skip
            dead = NotificationDeadLettered(notification_id=str(row["notification_id"]), area=row["area"],
                                            attempts=number, last_error=error)  # fmt: skip
            envelope = new_envelope(
                dead, person_id=row["person_id"], producer="breach", occurred_at=datetime.now(UTC)
            )
            await add_to_outbox(conn, TOPIC, [envelope])
            log.error("notification_dead_lettered", seq=seq, attempts=number, error=error)
            return
        await conn.execute(
            "UPDATE notifications SET attempts = $2, last_error = $3 WHERE seq = $1", seq, number, error
        )
        await schedule_deadline(
            conn, KIND, f"{seq}:{number + 1}", datetime.now(UTC) + retry_delay(retry_base_s, number)
        )

    return attempt

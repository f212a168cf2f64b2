"""Team webhooks: each new assignment is POSTed to the team's URL, signed with HMAC-SHA256 over the timestamp and
body (``dipflow.webhooks``), and retried with exponential backoff through durable timers until the
receiver answers 2xx or the attempts run out. Deliveries are queued in the assigning transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from dipflow.events.timers import Deadline, DeadlineHandler, schedule_deadline
from dipflow.logging import get_logger
from dipflow.webhooks import post_signed, retry_delay

log = get_logger("dipflow.referral.webhooks")
KIND = "referral.webhook"
MAX_ATTEMPTS = 8


async def queue_delivery(conn: asyncpg.Connection, area: str, body: dict[str, Any]) -> None:
    """Queue a delivery for the team of ``area`` if it has a webhook (in the caller's transaction)."""
    if not await conn.fetchval("SELECT 1 FROM team_webhooks WHERE area = $1", area):
        return
    delivery = await conn.fetchval(
        "INSERT INTO webhook_deliveries (area, body) VALUES ($1, $2) RETURNING id", area, body
    )
    await schedule_deadline(conn, KIND, f"{delivery}:1", datetime.now(UTC))


def deliver(retry_base_s: float, timeout_s: float = 5.0) -> DeadlineHandler:
    """The timer handler: one attempt; on failure the next attempt is scheduled (never raises for the receiver's
    faults, so a bad receiver cannot block other timers)."""

    async def attempt(conn: asyncpg.Connection, deadline: Deadline) -> None:
        delivery_id, number = (int(x) for x in deadline.subject.split(":"))
        row = await conn.fetchrow(
            "SELECT d.body, d.delivered_at, w.url, w.secret FROM webhook_deliveries d "
            "JOIN team_webhooks w USING (area) WHERE d.id = $1 FOR UPDATE OF d",
            delivery_id,
        )
        if row is None or row["delivered_at"] is not None:
            return
        body = orjson.dumps(row["body"])
        error = await post_signed(row["url"], row["secret"], body, delivery_id=str(delivery_id), attempt=number,
                                  timeout_s=timeout_s)  # fmt: skip
        if error is None:
            await conn.execute(
                "UPDATE webhook_deliveries SET delivered_at = now(), attempts = $2 WHERE id = $1",
                delivery_id,
                number,
            )
            return
        if number >= MAX_ATTEMPTS:
            await conn.execute(
                "UPDATE webhook_deliveries SET failed_at = now(), attempts = $2, last_error = $3 WHERE id = $1",
                delivery_id, number, error,
            )  # fmt: skip
            log.error("webhook_gave_up", delivery=delivery_id, attempts=number, error=error)
            return
        await conn.execute(
            "UPDATE webhook_deliveries SET attempts = $2, last_error = $3 WHERE id = $1",
            delivery_id,
            number,
            error,
        )
        await schedule_deadline(
            conn, KIND, f"{delivery_id}:{number + 1}", datetime.now(UTC) + retry_delay(retry_base_s, number)
        )
        log.warning("webhook_retrying", delivery=delivery_id, attempt=number, error=error)

    return attempt

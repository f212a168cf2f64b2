"""Transactional outbox: events are rows written with the state change, published later by the relay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from dipflow.db.appends import NOTIFY_CHANNEL, OutboxRow, queued_for, write_outbox
from dipflow.events.envelope import Envelope, EventPayload, new_envelope

__all__ = ["NOTIFY_CHANNEL", "add_to_outbox", "add_tombstone", "emit"]


async def add_to_outbox(conn: asyncpg.Connection, topic: str, envelopes: Sequence[Envelope]) -> None:
    """Queue events for ``topic`` inside the caller's transaction; the relay is woken on commit.

    Writing the same event id twice is a no-op, so a writer unsure whether its commit landed may retry.
    Inside a consumer's batch (:mod:`dipflow.db.appends`) the rows are written at the end of the batch."""
    await _append(conn, [(topic, e.key, e.to_bytes(), e.event_id) for e in envelopes])


async def _append(conn: asyncpg.Connection, rows: list[OutboxRow]) -> None:
    queue = queued_for(conn)
    if queue is not None:
        queue.outbox.extend(rows)
    else:
        await write_outbox(conn, rows)


async def emit(
    conn: asyncpg.Connection,
    *,
    topic: str,
    producer: str,
    person_id: str,
    payloads: Sequence[tuple[EventPayload, datetime]],
    correlation_id: str,
    causation: Envelope | None = None,
) -> None:
    """Wrap each (payload, when it happened) in an envelope keyed by ``person_id`` and queue them, in order."""
    envelopes = [
        new_envelope(
            p,
            person_id=person_id,
            producer=producer,
            occurred_at=at,
            correlation_id=correlation_id,
            causation=causation,
        )
        for p, at in payloads
    ]
    await add_to_outbox(conn, topic, envelopes)


async def add_tombstone(conn: asyncpg.Connection, topic: str, key: str) -> None:
    """Queue a tombstone (null value) for ``key`` on a compacted topic, in the caller's transaction."""
    await _append(conn, [(topic, key.encode(), None, uuid.uuid4())])

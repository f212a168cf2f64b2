"""A batch of events applied by a subscription's handler, read ahead as its consumer reads them, in the
caller's connection: what a consumer's poll does, without the broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import cast

import asyncpg
from aiokafka import ConsumerRecord

from dipflow.events import EventPayload, new_envelope
from dipflow.events.consumer import Parsed, apply_events
from dipflow.uow import Producer
from dipflow.wiring import Subscription

Event = tuple[str, EventPayload, datetime]
"""(person, payload, when it happened)."""


async def apply_batch(
    conn: asyncpg.Connection,
    subscription: Subscription,
    events: Sequence[Event],
    *,
    producer: str = "test",
    service: str = "test",
) -> int:
    """``events`` (sent by ``producer``) applied as one batch of ``service``'s ``subscription``, in a transaction
    of their own; how many applied."""
    batch = []
    for n, (person, payload, at) in enumerate(events):
        envelope = new_envelope(payload, person_id=person, producer=producer, occurred_at=at)
        batch.append(Parsed(ConsumerRecord("t", 0, n, 0, 0, None, b"", None, 0, 0, ()), envelope, payload))
    async with conn.transaction():
        applied, _ = await apply_events(
            conn,
            f"test.{subscription.group}",
            batch,
            subscription.handler,
            Producer(service, f"{service}.events.v1"),
            subscription.prefetch,
        )
    return applied


class _OneConnection:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


def one_connection(conn: asyncpg.Connection) -> asyncpg.Pool:
    """A pool of one connection (the test's, which logs its queries), for a loop that acquires from a pool."""
    return cast(asyncpg.Pool, _OneConnection(conn))

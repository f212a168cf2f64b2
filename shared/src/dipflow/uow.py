"""The unit of work: one PostgreSQL transaction and everything that must commit with it.

A service function takes a command and a :class:`UnitOfWork`. Through it, it reaches the connection (for the
repositories in ``adapters/``), emits events to the outbox, writes audit rows, schedules and cancels durable
timers and queues writes nobody reads back, all in the same transaction. Who caused the work travels with it:
the correlation id, the consumed event (its cause, named in every event it leads to) and the acting principal
(for the audit). The entrypoints open it: a route with ``AuthContext.unit_of_work()``, the consumer one per
event inside its batch transaction (the batch shares one batched :class:`~dipflow.db.appends.Writes`), the
timer loop one per deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from dipflow.auth.principal import Principal, Role
from dipflow.db.appends import AtEnd, OutboxRow, Writes
from dipflow.events.deadlines import cancel_deadline, schedule_deadline
from dipflow.events.envelope import Envelope, EventPayload, encode_event


@dataclass(frozen=True)
class Producer:
    """What a service publishes as: the envelope's ``producer`` and its events topic."""

    name: str
    topic: str


def system_actor(name: str) -> Principal:
    """The principal a system (a custody suite's system, a consumer) acts as in the audit log."""
    return Principal(subject=f"system:{name}", role=Role.admin, area="*")


@dataclass
class UnitOfWork:
    writes: Writes
    producer: Producer
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation: Envelope | None = None
    actor: Principal | None = None

    @property
    def conn(self) -> asyncpg.Connection:
        return self.writes.conn

    @property
    def memo(self) -> dict[Hashable, Any]:
        """Reference data read once per transaction (per batch in a consumer), and aggregates a batch read
        ahead (:data:`dipflow.events.consumer.Prefetch`)."""
        return self.writes.memo

    async def emit(
        self,
        person_id: str,
        payloads: Sequence[tuple[EventPayload, datetime]],
        *,
        topic: str | None = None,
        producer: str | None = None,
    ) -> None:
        """Each (payload, when it happened) as an event keyed by ``person_id``, in order, in this transaction;
        with this work's correlation id and cause."""
        causation_id = str(self.causation.event_id) if self.causation else None
        key = person_id.encode()
        rows: list[OutboxRow] = []
        for payload, at in payloads:
            event_id, value = encode_event(
                payload,
                person_id=person_id,
                producer=producer or self.producer.name,
                occurred_at=at,
                correlation_id=self.correlation_id,
                causation_id=causation_id,
            )
            rows.append((topic or self.producer.topic, key, value, event_id))
        await self.writes.outbox(rows)

    async def tombstone(self, topic: str, key: str) -> None:
        """A null value for ``key`` on a compacted topic, in this transaction."""
        await self.writes.outbox([(topic, key.encode(), None, uuid.uuid4())])

    async def audit(
        self, action: str, person_id: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """Who (the acting principal), in which role and area, did ``action`` to whose record."""
        actor = self.actor or system_actor(self.producer.name)
        await self.writes.audit(
            (
                actor.subject,
                str(actor.role),
                actor.area,
                action,
                person_id,
                self.correlation_id,
                detail or {},
            )
        )

    async def schedule(
        self, kind: str, subject: str, due_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        await schedule_deadline(self.writes, kind, subject, due_at, payload)

    async def cancel(self, kind: str, subject: str) -> None:
        await cancel_deadline(self.writes, kind, subject)

    async def execute(self, sql: str, *args: Any) -> None:
        """A write nobody reads back in this transaction (queued to the end of a consumer's batch)."""
        await self.writes.execute(sql, *args)

    async def execute_unordered(self, sql: str, *args: Any) -> None:
        """A write nobody reads back whose effect does not depend on its order among the batch's writes
        (see :meth:`Writes.execute_unordered`): a batch writes those of one text together."""
        await self.writes.execute_unordered(sql, *args)

    async def notify(self, channel: str, payload: str = "") -> None:
        await self.writes.notify(channel, payload)

    async def at_end(self, key: Hashable, item: Any, action: AtEnd) -> None:
        """``action`` once for the batch, given every ``item`` asked for under ``key`` (see
        :meth:`Writes.at_end`); outside a batch at once."""
        await self.writes.at_end(key, item, action)

    async def flush(self) -> None:
        """Write what is queued now, before reading a table it writes (the outbox or the audit log too)."""
        await self.writes.flush()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: what its block writes (events, audit and statements included, also in a batch)
        is rolled back alone if the block raises."""
        await self.writes.flush()
        mark = self.writes.mark()
        try:
            async with self.conn.transaction():
                yield
                await self.writes.flush()
        except BaseException:
            self.writes.discard(mark)
            raise

    def caused_by(self, envelope: Envelope) -> UnitOfWork:
        """The same transaction and writes, for the work a consumed ``envelope`` causes."""
        return UnitOfWork(self.writes, self.producer, envelope.correlation_id, envelope, self.actor)

    def acting_as(self, actor: Principal) -> UnitOfWork:
        return UnitOfWork(self.writes, self.producer, self.correlation_id, self.causation, actor)


@asynccontextmanager
async def unit_of_work(
    pool: asyncpg.Pool,
    producer: Producer,
    *,
    correlation_id: str | None = None,
    actor: Principal | None = None,
) -> AsyncIterator[UnitOfWork]:
    """One transaction on a connection of ``pool``: committed when the block ends, rolled back if it raises. Its
    outbox rows, audit rows and ``NOTIFY``s are written together when the block ends (one round trip)."""
    async with pool.acquire() as conn, conn.transaction():
        writes = Writes(conn, appends_at_end=True)
        yield UnitOfWork(writes, producer, correlation_id=correlation_id or str(uuid.uuid4()), actor=actor)
        await writes.flush()


@asynccontextmanager
async def reading(
    pool: asyncpg.Pool,
    producer: Producer,
    *,
    correlation_id: str | None = None,
    actor: Principal | None = None,
) -> AsyncIterator[UnitOfWork]:
    """Work that only reads (an access check, a list): a connection without a transaction, so no BEGIN and
    COMMIT round trips; the audit row of a read commits on its own."""
    async with pool.acquire() as conn:
        yield UnitOfWork(
            Writes(conn), producer, correlation_id=correlation_id or str(uuid.uuid4()), actor=actor
        )

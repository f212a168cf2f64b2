"""What a transaction writes besides its own statements, written at once or, in a consumer's batch, together.

Outbox rows, audit rows, the relay's wake-up and statements whose result nobody reads (projections, deadline
scheduling) go through a transaction's :class:`Writes`. For an HTTP request or a timer it writes each at once.
When the consumer applies a batch of events in one transaction it opens one batched ``Writes`` for the batch:
the rows are queued and written when the batch ends, in the order they were queued, with one statement per
table (the outbox through ``unnest … WITH ORDINALITY``), runs of the same statement as one pipelined
``executemany``, and each ``NOTIFY`` once before the transaction commits. Code that reads those tables inside
such a transaction (erasure pseudonymising the audit log, the PPO panel check) calls :meth:`Writes.flush` first.

``memo`` holds reference data that every event of a batch reads and none changes (a custody suite's area, a
station's notified arrangements): read once per batch; and the aggregates a batch's events name, read and
locked at once before its handlers run and kept up to date as they are saved; such an aggregate's row is
written once, at the batch's end, however many of its events saved it (:meth:`Writes.execute_last`). A nested
block that fails forgets the memo with its writes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

NOTIFY_CHANNEL = "dipflow_outbox"

OutboxRow = tuple[str, bytes | None, bytes | None, uuid.UUID]
AuditRow = tuple[str, str, str, str, str | None, str, dict[str, Any]]

_INSERT_OUTBOX = """
INSERT INTO outbox (topic, key, value, event_id)
SELECT t, k, v, e FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::uuid[]) WITH ORDINALITY AS r(t, k, v, e, n)
ORDER BY n
ON CONFLICT (event_id) DO NOTHING
"""
INSERT_AUDIT = """
INSERT INTO audit_log (actor, role, area, action, person_id, correlation_id, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""


class Writes:
    """The appended writes of one transaction on ``conn``; ``batched`` queues them until :meth:`flush`."""

    def __init__(self, conn: asyncpg.Connection, *, batched: bool = False) -> None:
        self.conn = conn
        self.batched = batched
        self.memo: dict[Hashable, Any] = {}
        self._outbox: list[OutboxRow] = []
        self._audit: list[AuditRow] = []
        self._statements: list[tuple[str, tuple[Any, ...]]] = []
        self._latest: dict[Hashable, tuple[str, tuple[Any, ...]]] = {}
        self._notify: set[str] = set()

    async def outbox(self, rows: list[OutboxRow]) -> None:
        """Outbox rows in order (ids follow the list); the relay is woken on commit. Writing the same event id
        twice is a no-op, so a writer unsure whether its commit landed may retry."""
        if self.batched:
            self._outbox.extend(rows)
        else:
            await write_outbox(self.conn, rows)

    async def audit(self, row: AuditRow) -> None:
        if self.batched:
            self._audit.append(row)
        else:
            await self.conn.execute(INSERT_AUDIT, *row)

    async def execute(self, sql: str, *args: Any) -> None:
        """A statement whose result nobody reads: now, or at the end of the batch in the order queued."""
        if self.batched:
            self._statements.append((sql, args))
        else:
            await self.conn.execute(sql, *args)

    async def execute_last(self, key: Hashable, sql: str, *args: Any) -> None:
        """A statement that supersedes any queued earlier under the same ``key`` (an aggregate saved again):
        in a batch only the last is written, before the other queued statements, so it is for a table none of
        them touches; outside a batch it is written now."""
        if self.batched:
            self._latest.pop(key, None)
            self._latest[key] = (sql, args)
        else:
            await self.conn.execute(sql, *args)

    async def notify(self, channel: str) -> None:
        """``NOTIFY channel`` in this transaction (listeners hear it on commit); once per batch."""
        if self.batched:
            self._notify.add(channel)
        else:
            await self.conn.execute(f"NOTIFY {channel}")

    def discard(self) -> None:
        """Forget what is queued and not yet written, and what was read (a nested block that failed)."""
        self._outbox, self._audit, self._statements, self._latest = [], [], [], {}
        self.memo.clear()

    async def flush(self) -> None:
        """Write what is queued so far (nothing outside a batch)."""
        outbox, audit, notify = self._outbox, self._audit, self._notify
        statements = [*self._latest.values(), *self._statements]
        self._outbox, self._audit, self._statements, self._latest, self._notify = [], [], [], {}, set()
        await _write_statements(self.conn, statements)
        await write_outbox(self.conn, outbox)
        if audit:
            await self.conn.executemany(INSERT_AUDIT, audit)
        for channel in sorted(notify):
            await self.conn.execute(f"NOTIFY {channel}")


async def write_outbox(conn: asyncpg.Connection, rows: list[OutboxRow]) -> None:
    """Insert outbox rows in order (ids follow the list) and wake the relay on commit."""
    if not rows:
        return
    topics, keys, values, ids = zip(*rows, strict=True)
    await conn.execute(_INSERT_OUTBOX, list(topics), list(keys), list(values), list(ids))
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


async def _write_statements(conn: asyncpg.Connection, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    run: list[tuple[Any, ...]] = []
    for i, (sql, args) in enumerate(statements):
        run.append(args)
        if i + 1 == len(statements) or statements[i + 1][0] != sql:
            if len(run) == 1:
                await conn.execute(sql, *run[0])
            else:
                await conn.executemany(sql, run)
            run = []


@asynccontextmanager
async def batched_writes(conn: asyncpg.Connection) -> AsyncIterator[Writes]:
    """A batched ``Writes`` on ``conn`` (inside the caller's transaction), flushed when the block ends. A block
    that raises writes nothing (its transaction is rolled back anyway)."""
    writes = Writes(conn, batched=True)
    yield writes
    await writes.flush()

"""Append-only rows a batch transaction writes once, at its end.

Outbox rows, audit rows and the relay's wake-up are appended by nearly every handler and never read back in
the transaction that writes them. When the consumer applies a batch of events in one transaction it opens
:func:`batched_appends` on that connection: :func:`dipflow.events.outbox.add_to_outbox` and
:meth:`dipflow.audit.Audit.record` then queue their rows instead of making a round trip each, and the scope
writes them all, in the order they were queued, with one statement per table and one ``NOTIFY`` before the
transaction commits. Anywhere else (HTTP requests, timers) they write at once, as before.

Code that reads those tables inside such a transaction (erasure pseudonymising the audit log) calls
:func:`flush_appends` first.

Projections whose writes return nothing the handler needs queue them with :func:`queue_write`; consecutive
writes of the same statement go to the server in one pipelined ``executemany``. Anything that reads those
tables later in the batch calls :func:`flush_appends` first.

The scope also carries a memo (:func:`batch_memo`) for reference data that every event of a batch reads
and no event changes (a custody suite's force, a station's notified arrangements): read once per batch.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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


@dataclass
class Appends:
    conn: asyncpg.Connection
    outbox: list[OutboxRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    memo: dict[Hashable, Any] = field(default_factory=dict)
    writes: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    notify: set[str] = field(default_factory=set)


_current: ContextVar[Appends | None] = ContextVar("dipflow_appends", default=None)


def queued_for(conn: asyncpg.Connection) -> Appends | None:
    """The open batch scope of ``conn`` in this task, if any."""
    appends = _current.get()
    return appends if appends is not None and appends.conn is conn else None


async def queue_write(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Run ``sql`` now, or, inside a batch scope, when the scope flushes (in the order queued)."""
    appends = queued_for(conn)
    if appends is None:
        await conn.execute(sql, *args)
    else:
        appends.writes.append((sql, args))


async def notify_on_commit(conn: asyncpg.Connection, channel: str) -> None:
    """``NOTIFY channel`` in the caller's transaction (listeners hear it on commit); once per batch scope."""
    appends = queued_for(conn)
    if appends is None:
        await conn.execute(f"NOTIFY {channel}")
    else:
        appends.notify.add(channel)


def batch_memo(conn: asyncpg.Connection) -> dict[Hashable, Any] | None:
    """A dict that lives as long as the open batch scope of ``conn``; None outside one."""
    appends = queued_for(conn)
    return appends.memo if appends is not None else None


async def write_outbox(conn: asyncpg.Connection, rows: list[OutboxRow]) -> None:
    """Insert outbox rows in order (ids follow the list) and wake the relay on commit."""
    if not rows:
        return
    topics, keys, values, ids = zip(*rows, strict=True)
    await conn.execute(_INSERT_OUTBOX, list(topics), list(keys), list(values), list(ids))
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


async def flush_appends(conn: asyncpg.Connection) -> None:
    """Write what the open scope of ``conn`` has queued so far (nothing when there is no scope)."""
    appends = queued_for(conn)
    if appends is None:
        return
    outbox, audit, writes, notify = appends.outbox, appends.audit, appends.writes, appends.notify
    appends.outbox, appends.audit, appends.writes, appends.notify = [], [], [], set()
    await _write_queued(conn, writes)
    await write_outbox(conn, outbox)
    if audit:
        await conn.executemany(INSERT_AUDIT, audit)
    for channel in sorted(notify):
        await conn.execute(f"NOTIFY {channel}")


async def _write_queued(conn: asyncpg.Connection, writes: list[tuple[str, tuple[Any, ...]]]) -> None:
    run: list[tuple[Any, ...]] = []
    for i, (sql, args) in enumerate(writes):
        run.append(args)
        if i + 1 == len(writes) or writes[i + 1][0] != sql:
            if len(run) == 1:
                await conn.execute(sql, *run[0])
            else:
                await conn.executemany(sql, run)
            run = []


@asynccontextmanager
async def batched_appends(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Queue outbox and audit rows written on ``conn`` until the block ends, then write them; inside the
    caller's transaction. A block that raises writes nothing (its transaction is rolled back anyway)."""
    token = _current.set(Appends(conn))
    try:
        yield
        await flush_appends(conn)
    finally:
        _current.reset(token)

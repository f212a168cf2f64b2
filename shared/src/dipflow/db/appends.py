"""What a transaction writes besides its own statements, written at once or, in a consumer's batch, together.

Outbox rows, audit rows, the relay's wake-up and statements whose result nobody reads (projections, deadline
scheduling) go through a transaction's :class:`Writes`. An HTTP request's unit of work holds back only its
appends (``appends_at_end``): its outbox rows, audit rows and ``NOTIFY``s are written together, in one
statement, when its block ends; a timer pass likewise, for all the deadlines it fired (a deadline whose handler
failed leaves none). When the consumer applies a batch of events in one
transaction it opens one batched ``Writes`` for the batch: everything is queued and written when the batch
ends, in the order queued, the statements nobody reads as runs of one text (one pipelined ``executemany``
each), then the appends in one statement (:func:`write_appends`: outbox rows through ``unnest … WITH
ORDINALITY``, audit rows likewise, each ``NOTIFY`` once), before the transaction commits. Code that reads those
tables inside such a transaction (erasure pseudonymising the audit log, the PPO panel check) calls
:meth:`Writes.flush` first. What :meth:`Writes.at_end` work writes is written only at the batch's end, past any
flush: it is for tables nothing reads inside the batch.

``memo`` holds reference data that every event of a batch reads and none changes (a custody suite's area, a
station's notified arrangements): read once per batch; and the aggregates a batch's events name, read and
locked at once before its handlers run and kept up to date as they are saved; such an aggregate's row is
written once, at the batch's end, however many of its events saved it (:meth:`Writes.execute_last`). A nested
block that fails forgets the memo with its writes.

Work several events of a batch ask for (the PPO register re-checking a person's panel flag after each positive)
is done once at the batch's end for all of them (:meth:`Writes.at_end`); outside a batch, at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

NOTIFY_CHANNEL = "dipflow_outbox"

OutboxRow = tuple[str, bytes | None, bytes | None, uuid.UUID]
AtEnd = Callable[[list[Any]], Awaitable[None]]
"""Work asked for by several events of a batch and done once for all of them, with what each asked for."""
AuditRow = tuple[str, str, str, str, str | None, str, dict[str, Any]]

INSERT_AUDIT = """
INSERT INTO audit_log (actor, role, area, action, person_id, correlation_id, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
_APPENDS = """
WITH outbox_rows AS (
    INSERT INTO outbox (topic, key, value, event_id)
    SELECT t, k, v, e FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::uuid[]) WITH ORDINALITY AS r(t, k, v, e, n)
    ORDER BY n
), audit_rows AS (
    INSERT INTO audit_log (actor, role, area, action, person_id, correlation_id, detail)
    SELECT a, r, ar, ac, p, c, d
    FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[])
        WITH ORDINALITY AS r(a, r, ar, ac, p, c, d, n)
    ORDER BY n
)
SELECT count(pg_notify(c, p)) FROM unnest($12::text[], $13::text[]) AS n(c, p)
"""


class Writes:
    """The appended writes of one transaction on ``conn``; ``batched`` queues them until :meth:`flush`,
    ``appends_at_end`` only the outbox rows, audit rows and ``NOTIFY``s."""

    def __init__(
        self, conn: asyncpg.Connection, *, batched: bool = False, appends_at_end: bool = False
    ) -> None:
        self.conn = conn
        self.batched = batched
        self.appends_at_end = batched or appends_at_end
        self.memo: dict[Hashable, Any] = {}
        self._outbox: list[OutboxRow] = []
        self._audit: list[AuditRow] = []
        self._statements: list[tuple[str, tuple[Any, ...]]] = []
        self._latest: dict[Hashable, dict[Hashable, tuple[str, tuple[Any, ...]]]] = {}
        self._unordered: dict[str, list[tuple[Any, ...]]] = {}
        self._at_end: dict[Hashable, tuple[AtEnd, list[Any]]] = {}
        self._notify: set[tuple[str, str]] = set()

    async def outbox(self, rows: list[OutboxRow]) -> None:
        """Outbox rows in order (ids follow the list); the relay is woken on commit. A writer unsure whether its
        commit landed may write the same events again: published twice, they are applied once (the inbox)."""
        if self.appends_at_end:
            self._outbox.extend(rows)
        else:
            await write_appends(self.conn, rows, [], set())

    async def audit(self, row: AuditRow) -> None:
        if self.appends_at_end:
            self._audit.append(row)
        else:
            await self.conn.execute(INSERT_AUDIT, *row)

    async def execute(self, sql: str, *args: Any) -> None:
        """A statement whose result nobody reads: now, or at the end of the batch in the order queued."""
        if self.batched:
            self._statements.append((sql, args))
        else:
            await self.conn.execute(sql, *args)

    async def execute_unordered(self, sql: str, *args: Any) -> None:
        """A statement whose effect does not depend on when it runs among the batch's other writes (an upsert
        of columns no other queued statement writes, an insert that ignores a duplicate): in a batch those of
        one text are written together in one pipelined ``executemany``, in the order queued, before the
        ordered statements; outside a batch it is written now."""
        if self.batched:
            self._unordered.setdefault(sql, []).append(args)
        else:
            await self.conn.execute(sql, *args)

    async def execute_last(self, row: Hashable, sql: str, *args: Any, kind: Hashable = None) -> None:
        """A statement on one ``row`` that supersedes any queued earlier of the same ``kind`` on it (an
        aggregate saved again; a deadline scheduled again, or cancelled again). In a batch only each row's
        last statement of each kind is written, in the order those were queued, before the other queued
        statements (so it is for a table none of them touches); rows go side by side, one ``executemany`` per
        statement text. Outside a batch it is written now."""
        if self.batched:
            statements = self._latest.setdefault(row, {})
            statements.pop(kind, None)
            statements[kind] = (sql, args)
        else:
            await self.conn.execute(sql, *args)

    async def at_end(self, key: Hashable, item: Any, action: AtEnd) -> None:
        """In a batch, ``action`` runs once when its events have all been handled (before the batch's writes
        go out), given every ``item`` asked for under ``key`` in order (the first action given is the one
        run); outside a batch it runs now, given this item alone."""
        if not self.batched:
            await action([item])
            return
        self._at_end.setdefault(key, (action, []))[1].append(item)

    def mark(self) -> dict[Hashable, int]:
        """Where the end-of-batch work stands, for :meth:`discard` to go back to."""
        return {key: len(items) for key, (_, items) in self._at_end.items()}

    async def notify(self, channel: str, payload: str = "") -> None:
        """``NOTIFY channel, payload`` in this transaction (listeners hear it on commit); once per batch."""
        if self.appends_at_end:
            self._notify.add((channel, payload))
        else:
            await self.conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    def take_appends(self, other: Writes) -> None:
        """Hold ``other``'s appends (outbox rows, audit rows, ``NOTIFY``s) after this one's, to be written with
        them: a timer pass writes the appends of the deadlines it fired in one statement at its end."""
        assert self.appends_at_end and other.appends_at_end
        self._outbox += other._outbox
        self._audit += other._audit
        self._notify |= other._notify
        other._outbox, other._audit, other._notify = [], [], set()

    def discard(self, mark: Mapping[Hashable, int] | None = None) -> None:
        """Forget what is queued and not yet written, and what was read (a nested block that failed): the
        end-of-batch work asked for since ``mark`` too (all of it without one)."""
        self._outbox, self._audit, self._statements, self._latest, self._unordered = [], [], [], {}, {}
        self._at_end = {
            key: (action, items[: mark[key]])
            for key, (action, items) in self._at_end.items()
            if mark is not None and mark.get(key)
        }
        self.memo.clear()

    async def finish(self) -> None:
        """The end-of-batch work (which may queue writes, and more such work), then every queued write."""
        while self._at_end:
            work, self._at_end = self._at_end, {}
            for action, items in work.values():
                await action(items)
        await self.flush()

    async def flush(self) -> None:
        """Write what is queued so far (nothing when nothing is held back)."""
        await self.flush_statements()
        outbox, audit, notify = self._outbox, self._audit, self._notify
        self._outbox, self._audit, self._notify = [], [], set()
        await write_appends(self.conn, outbox, audit, notify)

    async def flush_statements(self) -> None:
        """Write the queued statements so far, holding the appends back (they are written with the rest): what
        is read next sees what was written before it."""
        unordered = [(sql, args) for sql, runs in self._unordered.items() for args in runs]
        statements = [*_by_position(self._latest), *unordered, *self._statements]
        self._statements, self._latest, self._unordered = [], {}, {}
        await _write_statements(self.conn, statements)


async def write_appends(
    conn: asyncpg.Connection, outbox: list[OutboxRow], audit: list[AuditRow], notify: set[tuple[str, str]]
) -> None:
    """Outbox rows and audit rows, each in order (ids follow the lists), and each ``NOTIFY`` once (the relay's
    too when there are outbox rows), in one statement: one round trip however many tables it writes."""
    if outbox:
        notify = notify | {(NOTIFY_CHANNEL, "")}
    if not (outbox or audit or notify):
        return
    columns: list[list[Any]] = [list(c) for c in zip(*outbox, strict=True)] if outbox else [[]] * 4
    columns += [list(c) for c in zip(*audit, strict=True)] if audit else [[]] * 7
    columns += [list(c) for c in zip(*sorted(notify), strict=True)] if notify else [[]] * 2
    await conn.execute(_APPENDS, *columns)


def _by_position(
    rows: dict[Hashable, dict[Hashable, tuple[str, tuple[Any, ...]]]],
) -> list[tuple[str, tuple[Any, ...]]]:
    """Each row's first statement, then each row's second…, and within a position by statement text: a row's
    statements keep their order, and runs of one text are as long as they can be."""
    ordered: list[tuple[str, tuple[Any, ...]]] = []
    pending = [list(statements.values()) for statements in rows.values()]
    position = 0
    while pending:
        ordered += sorted((statements[position] for statements in pending), key=lambda s: s[0])
        position += 1
        pending = [statements for statements in pending if len(statements) > position]
    return ordered


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
    """A batched ``Writes`` on ``conn`` (inside the caller's transaction), finished when the block ends: its
    end-of-batch work done and its writes flushed. A block that raises writes nothing (its transaction is
    rolled back anyway)."""
    writes = Writes(conn, batched=True)
    yield writes
    await writes.finish()

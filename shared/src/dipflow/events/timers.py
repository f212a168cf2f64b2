"""Durable timers: deadlines are rows that fire exactly once, in the same transaction as their effects.

A loop claims due rows with ``FOR UPDATE SKIP LOCKED`` (so two instances never fire the same row), runs the
handler for each row's kind, and marks the rows fired in the same transaction: all together first (after a
:data:`ReadAhead` of what they act on, where the service gives one), one by one in savepoints when a handler
fails (:meth:`TimerLoop.fire_due`). A deadline that fell due while the service was down fires on the next pass
after it starts. A handler that keeps failing is retried on later passes and marked failed after
``max_attempts``.

After a pass the loop sleeps until the next pending deadline falls due, at most ``poll_interval_s`` (so a
deadline fires at its own time, within milliseconds); a deadline scheduled to fall due about now (within ``WAKE_WITHIN``: a
notification to send) wakes the loop of its kind at once through ``NOTIFY dipflow_deadlines`` on the scheduling
transaction's commit, and no other loop (a pass woken for nothing holds back the next woken one by ``min_gap_s``).
One long overdue when it is scheduled (a back-dated detention) waits for the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dipflow import waking
from dipflow.db.appends import Writes, batched_writes
from dipflow.events.deadlines import WAKE_CHANNEL, cancel_deadline, schedule_deadline
from dipflow.events.errors import Backoff, is_transient
from dipflow.logging import get_logger
from dipflow.uow import Producer, UnitOfWork

__all__ = [
    "Deadline",
    "DeadlineHandler",
    "ReadAhead",
    "TimerLoop",
    "TryLater",
    "cancel_deadline",
    "lock_all_or_try_later",
    "lock_or_try_later",
    "schedule_deadline",
]

_FIRED = (
    "UPDATE deadlines SET fired_at = now() WHERE id = {id:d}; RELEASE SAVEPOINT deadline; SAVEPOINT deadline"
)
"""A deadline's handler succeeded: it is marked fired, its savepoint released and the next deadline's opened, in
one round trip (one left open after the last commits with the pass)."""
_UNDONE = "ROLLBACK TO SAVEPOINT deadline; RELEASE SAVEPOINT deadline"
"""A deadline's handler failed: what it wrote is undone, and the pass goes on."""

log = get_logger("dipflow.timers")


@dataclass(frozen=True)
class Deadline:
    id: int
    kind: str
    subject: str
    due_at: datetime
    payload: dict[str, Any]


DeadlineHandler = Callable[[UnitOfWork, Deadline], Awaitable[None]]
"""Runs in the timer loop's transaction; what it emits, audits or schedules commits with the deadline fired."""
ReadAhead = Callable[[UnitOfWork, Sequence[Deadline]], Awaitable[None]]
"""Before a pass's handlers run together: reads (and locks) at once what they act on, into the transaction's
memo, where they find it and keep it up to date as they save it; the handlers then run as a consumer's batch
does, their writes queued to the pass's end (each reads only the memo, or flushes before it reads). A lock
it cannot take at once raises :class:`TryLater`: the pass is then made one by one, without it."""


class TryLater(Exception):
    """Raised by a handler that cannot act now without waiting on a lock another transaction holds (that
    transaction may be waiting on this deadline's row: waiting would deadlock). The deadline is put back a
    moment later, and this is not counted as a failed attempt."""


async def lock_or_try_later(conn: asyncpg.Connection, sql: str, *args: object) -> asyncpg.Record | None:
    """Run ``sql`` (a ``SELECT … FOR UPDATE NOWAIT``) for a deadline handler; TryLater if the row is locked."""
    rows = await lock_all_or_try_later(conn, sql, *args)
    return rows[0] if rows else None


async def lock_all_or_try_later(conn: asyncpg.Connection, sql: str, *args: object) -> list[asyncpg.Record]:
    """Run ``sql`` (a ``SELECT … FOR UPDATE NOWAIT``) for deadline handlers (or a pass's :data:`ReadAhead`);
    TryLater if any of its rows is locked."""
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
    except asyncpg.LockNotAvailableError as exc:
        raise TryLater(str(exc)) from exc
    return rows


class TimerLoop:
    def __init__(
        self,
        pool: asyncpg.Pool,
        handlers: Mapping[str, DeadlineHandler],
        *,
        producer: Producer,
        poll_interval_s: float = 1.0,
        batch_size: int = 100,
        max_attempts: int = 5,
        min_gap_s: float = 0.05,
        read_ahead: ReadAhead | None = None,
    ) -> None:
        self.pool = pool
        self.handlers = dict(handlers)
        self.read_ahead = read_ahead
        self.producer = producer
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.min_gap_s = min_gap_s
        self.fired = 0

    async def run(self) -> None:
        wake = asyncio.Event()
        listener = asyncio.create_task(self._listen(wake))
        try:
            await self._passes(wake)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _passes(self, wake: asyncio.Event) -> None:
        """Pass after pass: when the next deadline falls due (by the database's clock), when woken, and at least
        every ``poll_interval_s``. A pass woken for nothing (a deadline notified before it is due, or a due
        row another instance holds) holds back the next woken pass by ``min_gap_s``: under load the wake-ups
        come with nearly every commit, and one pass then takes what fell due meanwhile. A pass brought by the
        clock is never held back (a deadline fires at its own time, even just after a pass by the clock), nor
        one right after a pass that fired (the next step of a chain, due at once, fires without waiting)."""
        backoff = Backoff()
        held_until = 0.0
        woken = False
        while True:
            if woken and (hold := held_until - time.monotonic()) > 0:
                await asyncio.sleep(hold)
            wake.clear()
            started = time.monotonic()
            fired_before = self.fired
            try:
                claimed = await self.fire_due()
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                woken = False
                level = log.warning if is_transient(exc) else log.error
                level("timer_pass_failed", error=type(exc).__name__)
                await asyncio.sleep(backoff.next())
                continue
            fired = self.fired > fired_before
            if woken and not fired:
                held_until = started + self.min_gap_s
            woken = False
            if claimed < self.batch_size:
                timeout = await self._until_next_due()
                if timeout <= 0 and not fired:
                    woken = True  # due yet not claimed: just now due, or held by another instance
                else:
                    woken = await waking.woken(wake, timeout)

    async def _until_next_due(self) -> float:
        """Seconds until the next pending deadline of this loop's kinds falls due (by the database's clock),
        at most ``poll_interval_s``: a deadline fires at its own time, not at the next pass by the clock."""
        try:
            seconds = await self.pool.fetchval(
                """
                SELECT extract(epoch FROM min(next.due_at) - clock_timestamp())
                FROM unnest($1::text[]) AS k(kind)
                CROSS JOIN LATERAL (
                    SELECT due_at FROM deadlines
                    WHERE kind = k.kind AND fired_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL
                    ORDER BY due_at LIMIT 1
                ) AS next
                """,
                list(self.handlers),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next pass will meet the same trouble and back off
            log.info("timer_next_due_unknown", error=type(exc).__name__)
            return self.poll_interval_s
        if seconds is None:
            return self.poll_interval_s
        return min(self.poll_interval_s, max(0.0, float(seconds)))

    async def _listen(self, wake: asyncio.Event) -> None:
        """Hold a connection listening for deadlines of this loop's kinds that fall due soon (a notice without
        a kind wakes every loop); the passes go on by the clock alone while it is away."""
        while True:
            try:
                async with self.pool.acquire() as conn:
                    await self._listen_on(conn, wake, {"", *self.handlers})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("timer_listener_lost", error=type(exc).__name__)
                await asyncio.sleep(1.0)

    @staticmethod
    async def _listen_on(conn: asyncpg.Connection, wake: asyncio.Event, kinds: set[str]) -> None:
        """Until the connection is lost."""
        closed = asyncio.Event()

        def on_close(*_: object) -> None:
            closed.set()

        def on_notify(_conn: object, _pid: int, _channel: str, kind: str) -> None:
            if kind in kinds:
                wake.set()

        conn.add_termination_listener(on_close)
        await conn.add_listener(WAKE_CHANNEL, on_notify)
        try:
            await closed.wait()
        finally:
            conn.remove_termination_listener(on_close)
            with contextlib.suppress(Exception):
                await conn.remove_listener(WAKE_CHANNEL, on_notify)

    def _unit_of_work(self, conn: asyncpg.Connection) -> UnitOfWork:
        return UnitOfWork(Writes(conn), self.producer)

    async def prepare(self, conn: asyncpg.Connection, deadlines: list[Deadline]) -> None:
        """Before a pass fires ``deadlines`` one by one, in its transaction: work they can share or overlap
        (nothing here)."""

    async def fire_due(self) -> int:
        """One pass: fire what is due now, in one transaction whose outbox rows, audit rows and ``NOTIFY``s are
        written together at its end; the deadlines share one memo (what they read once per transaction, such as
        whether an area has a webhook). First all together, as a consumer applies a batch: with a
        ``read_ahead``, it reads what the handlers act on and their writes wait for the pass's end; without,
        each handler's queued statements are written before the next runs (so it reads what the one before
        wrote); the end-of-batch work (alerts raised) at the end, the deadlines marked fired in one statement.
        Should any handler fail or say try later, none of that is kept and the pass is made again deadline by
        deadline (:meth:`_fire_each`). Returns how many rows were claimed."""
        try:
            return await self._fire_together()
        except Exception as exc:
            if is_transient(exc):
                raise
            log.info("timer_pass_one_by_one", error=type(exc).__name__)
        return await self._fire_each()

    async def _claim(self, conn: asyncpg.Connection) -> list[Deadline]:
        rows = await conn.fetch(
            """
            SELECT due.id, due.kind, due.subject, due.due_at, due.payload
            FROM unnest($2::text[]) AS k(kind)
            CROSS JOIN LATERAL (
                SELECT id, kind, subject, due_at, payload FROM deadlines
                WHERE kind = k.kind AND fired_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL
                  AND due_at <= now()
                ORDER BY due_at, id
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            ) AS due
            ORDER BY due.due_at, due.id
            LIMIT $1
            """,
            self.batch_size,
            list(self.handlers),
        )
        deadlines = [Deadline(r["id"], r["kind"], r["subject"], r["due_at"], r["payload"]) for r in rows]
        await self.prepare(conn, deadlines)
        return deadlines

    async def _fire_together(self) -> int:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                deadlines = await self._claim(conn)
                async with batched_writes(conn) as writes:
                    if self.read_ahead is not None and deadlines:
                        await self.read_ahead(UnitOfWork(writes, self.producer), deadlines)
                    for deadline in deadlines:
                        await self.handlers[deadline.kind](UnitOfWork(writes, self.producer), deadline)
                        if self.read_ahead is None:
                            await writes.flush_statements()
                    if deadlines:
                        await writes.execute(
                            "UPDATE deadlines SET fired_at = now() WHERE id = ANY($1::bigint[])",
                            [d.id for d in deadlines],
                        )
            self.fired += len(deadlines)
            return len(deadlines)

    async def _fire_each(self) -> int:
        """The pass deadline by deadline: each in its own savepoint, so one whose handler failed (tried again
        on a later pass, marked failed after ``max_attempts``) or said try later (put back a moment) leaves
        nothing, and the others fire; what one read is forgotten when it fails, as its savepoint is undone."""
        async with self.pool.acquire() as conn, conn.transaction():
            deadlines = await self._claim(conn)
            fired = Writes(conn, appends_at_end=True)
            opened = False
            for deadline in deadlines:
                writes = Writes(conn, appends_at_end=True)
                writes.memo = fired.memo  # what the deadlines fired so far read, unless one failed since
                try:
                    if not opened:
                        await conn.execute("SAVEPOINT deadline")
                    opened = False
                    await self.handlers[deadline.kind](UnitOfWork(writes, self.producer), deadline)
                    await conn.execute(_FIRED.format(id=int(deadline.id)))
                    opened = True
                    fired.take_appends(writes)
                    self.fired += 1
                except TryLater:
                    fired.memo.clear()
                    await conn.execute(_UNDONE)
                    await conn.execute(
                        "UPDATE deadlines SET due_at = now() + interval '1 second' WHERE id = $1", deadline.id
                    )
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    fired.memo.clear()
                    await conn.execute(_UNDONE)
                    log.error(
                        "deadline_handler_failed",
                        kind=deadline.kind,
                        deadline_id=deadline.id,
                        error=type(exc).__name__,
                    )
                    await conn.execute(
                        """
                        UPDATE deadlines SET attempts = attempts + 1, last_error = $2,
                               failed_at = CASE WHEN attempts + 1 >= $3 THEN now() END
                        WHERE id = $1
                        """,
                        deadline.id,
                        f"{type(exc).__name__}: {str(exc)[:300]}",
                        self.max_attempts,
                    )
            await fired.flush()
            return len(deadlines)

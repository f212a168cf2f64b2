"""Signed webhooks: HMAC-SHA256 over ``<timestamp>.<body>`` so a receiver can check both who sent it and that it
is fresh, a stable delivery id so a receiver can drop duplicates, and exponential backoff between attempts.

One engine delivers every service's webhooks. A service queues the first attempt in the transaction that decides
to notify (:func:`queue_with_first_attempt`), and keeps its deliveries in its own table behind a
:class:`DeliveryStore`; :func:`delivery_handler` is the durable timer that makes each attempt and schedules the
next, so a delivery survives restarts and a failing receiver never blocks other timers."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import anyio
import asyncpg
import certifi
import httpx
import orjson

from dipflow.events.deadlines import WAKE_CHANNEL
from dipflow.events.timers import Deadline, DeadlineHandler, TimerLoop
from dipflow.logging import get_logger
from dipflow.uow import Producer, UnitOfWork

SIGNATURE_HEADER = "x-dipflow-signature"
TIMESTAMP_HEADER = "x-dipflow-timestamp"
DELIVERY_HEADER = "x-dipflow-delivery"
ATTEMPT_HEADER = "x-dipflow-attempt"
MAX_DELAY = timedelta(hours=1)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def retry_delay(base_s: float, attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): base, twice that, four times … at most an hour."""
    return min(timedelta(seconds=base_s * 2 ** (attempt - 1)), MAX_DELAY)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every delivery: making one loads the trusted certificates, about 20-35 ms
    of CPU that a client made per attempt spent on the event loop each time."""
    return ssl.create_default_context(cafile=certifi.where())  # the certificates httpx trusts by default


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    """One client per event loop for every delivery: attempts to a receiver reuse its open connections
    instead of a new TCP connection and TLS handshake each."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = httpx.AsyncClient(verify=_tls_context())
    return client


async def post_signed(
    url: str, secret: str, body: bytes, *, delivery_id: str, attempt: int, timeout_s: float = 5.0
) -> str | None:
    """One attempt. None when the receiver answered 2xx, else what went wrong."""
    timestamp = str(int(datetime.now(UTC).timestamp()))
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_HEADER: delivery_id,
        ATTEMPT_HEADER: str(attempt),
    }
    try:
        answer = await _client().post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if answer.status_code // 100 == 2 else f"HTTP {answer.status_code}"


@dataclass(frozen=True)
class Pending:
    """A delivery not yet made: where it goes, how it is signed, what it says, its stable id."""

    url: str
    secret: str
    body: bytes
    delivery_id: str

    async def send(self, attempt: int, timeout_s: float) -> str | None:
        """Attempt number ``attempt`` (:func:`post_signed`)."""
        return await post_signed(
            self.url,
            self.secret,
            self.body,
            delivery_id=self.delivery_id,
            attempt=attempt,
            timeout_s=timeout_s,
        )


class Outcome(StrEnum):
    delivered = "delivered"
    retrying = "retrying"
    given_up = "given_up"
    """The last attempt failed: no more attempts."""


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: its number (1-based), the outcome, and the error when it failed."""

    number: int
    outcome: Outcome
    error: str | None = None


class DeliveryStore(Protocol):
    """A service's table of deliveries (SQL in its ``adapters``); ``key`` is the delivery's row key."""

    async def pending(self, uow: UnitOfWork, key: str) -> Pending | None:
        """The delivery, locked; None when it was delivered already or its receiver is gone."""

    async def record(self, uow: UnitOfWork, key: str, attempt: Attempt) -> None:
        """Keep the attempt on the delivery (and, when it was given up, tell whoever must know)."""


GivenUp = Callable[[UnitOfWork, str, Attempt], Awaitable[None]]
"""Told, in the attempt's transaction, that delivery ``key`` was given up."""


@dataclass(frozen=True)
class DeliveryTable:
    """Where a service keeps its deliveries: rows of ``table`` (the integer ``key`` column, ``area``, ``body``
    jsonb, ``attempts``, ``delivered_at``, ``last_error`` and the ``given_up`` timestamp column) sent to the URL
    and secret of their area in ``receivers`` (``area``, ``url``, ``secret``); receivers de-duplicate on the
    ``delivery_id`` column."""

    table: str
    key: str
    receivers: str
    given_up: str
    delivery_id: str

    async def set_receiver(self, uow: UnitOfWork, area: str, url: str, secret: str) -> None:
        """Deliveries for ``area`` go to ``url``, signed with ``secret``, from now on."""
        await uow.conn.execute(
            f"INSERT INTO {self.receivers} (area, url, secret) VALUES ($1, $2, $3) "
            "ON CONFLICT (area) DO UPDATE SET url = $2, secret = $3, updated_at = now()",
            area,
            url,
            secret,
        )
        uow.memo[(self.receivers, area)] = True

    async def has_receiver(self, uow: UnitOfWork, area: str) -> bool:
        """Whether ``area`` has a receiver: read once per transaction (a consumer's batch asks once per area)."""
        key = (self.receivers, area)
        if key not in uow.memo:
            uow.memo[key] = bool(
                await uow.conn.fetchval(f"SELECT 1 FROM {self.receivers} WHERE area = $1", area)
            )
        return bool(uow.memo[key])


class TableDeliveries:
    """The :class:`DeliveryStore` of a :class:`DeliveryTable`: the same bookkeeping for every service."""

    def __init__(self, where: DeliveryTable, on_given_up: GivenUp | None = None) -> None:
        t = where
        self.on_given_up = on_given_up
        self._pending = (
            f"SELECT d.{t.delivery_id}::text AS delivery_id, d.body, d.delivered_at, r.url, r.secret "
            f"FROM {t.table} d JOIN {t.receivers} r USING (area) WHERE d.{t.key} = $1 FOR UPDATE OF d"
        )
        self._record = (
            f"UPDATE {t.table} SET attempts = $2, last_error = coalesce($3, last_error), "
            f"delivered_at = CASE WHEN $4 THEN now() END, {t.given_up} = CASE WHEN $5 THEN now() END "
            f"WHERE {t.key} = $1"
        )

    async def pending(self, uow: UnitOfWork, key: str) -> Pending | None:
        row = await uow.conn.fetchrow(self._pending, int(key))
        if row is None or row["delivered_at"] is not None:
            return None
        return Pending(row["url"], row["secret"], orjson.dumps(row["body"]), row["delivery_id"])

    async def record(self, uow: UnitOfWork, key: str, attempt: Attempt) -> None:
        delivered, given_up = attempt.outcome is Outcome.delivered, attempt.outcome is Outcome.given_up
        await uow.conn.execute(self._record, int(key), attempt.number, attempt.error, delivered, given_up)
        if given_up and self.on_given_up is not None:
            await self.on_given_up(uow, key, attempt)


async def queue_with_first_attempt(uow: UnitOfWork, kind: str, insert: str, *args: object) -> None:
    """The delivery row that ``insert`` (an ``INSERT … RETURNING`` of the row's key) writes, and its first
    attempt (timer ``kind``, subject ``<key>:1``) due now, committed with the work that decided to send it: one
    statement queued with the transaction's other writes, nothing read back, so in a consumer's batch it costs
    no round trip of its own."""
    await uow.execute(
        f"WITH delivery AS ({insert}) INSERT INTO deadlines (kind, subject, due_at) "
        f"SELECT ${len(args) + 1}, d.key::text || ':1', now() FROM delivery AS d(key)",
        *args,
        kind,
    )
    await uow.notify(WAKE_CHANNEL, kind)


def _attempt_of(deadline: Deadline) -> tuple[str, int]:
    """The delivery's key and the attempt's number, from the timer's subject ``<key>:<number>``."""
    key, _, number_text = deadline.subject.rpartition(":")
    return key, int(number_text)


Started = dict[int, "asyncio.Task[str | None]"]
"""The attempts of a pass already under way, by deadline id (see :class:`DeliveryLoop`)."""


def delivery_handler(
    kind: str,
    store: DeliveryStore,
    *,
    retry_base_s: float,
    max_attempts: int,
    timeout_s: float = 5.0,
    started: Started | None = None,
) -> DeadlineHandler:
    """The timer of ``kind``: one attempt (the one already ``started`` for it, if any); a failure schedules the
    next after :func:`retry_delay`, and after ``max_attempts`` the store gives up. Never raises for the
    receiver's faults."""
    log = get_logger(f"dipflow.webhooks.{kind}")

    async def attempt(uow: UnitOfWork, deadline: Deadline) -> None:
        key, number = _attempt_of(deadline)
        pending = await store.pending(uow, key)
        running = started.pop(deadline.id, None) if started is not None else None
        if pending is None:
            if running is not None:
                running.cancel()
            return
        error = await (running or pending.send(number, timeout_s))
        if error is None:
            await store.record(uow, key, Attempt(number, Outcome.delivered))
        elif number >= max_attempts:
            await store.record(uow, key, Attempt(number, Outcome.given_up, error))
            log.error("webhook_gave_up", delivery=key, attempts=number, error=error)
        else:
            await store.record(uow, key, Attempt(number, Outcome.retrying, error))
            await uow.schedule(
                kind, f"{key}:{number + 1}", datetime.now(UTC) + retry_delay(retry_base_s, number)
            )
            log.warning("webhook_retrying", delivery=key, attempt=number, error=error)

    return attempt


class DeliveryLoop(TimerLoop):
    """The timer loop of one kind of delivery. A pass makes its attempts side by side: it locks each delivery
    due (in the pass's transaction) and starts its POST before recording any, so ten alerts raised at ten
    o'clock reach their receivers together rather than one after another. Each is still recorded in its own
    savepoint, as every timer is."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: Producer,
        kind: str,
        store: DeliveryStore,
        *,
        retry_base_s: float,
        max_attempts: int,
        timeout_s: float,
    ) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self.started: Started = {}
        handler = delivery_handler(
            kind,
            store,
            retry_base_s=retry_base_s,
            max_attempts=max_attempts,
            timeout_s=timeout_s,
            started=self.started,
        )
        super().__init__(pool, {kind: handler}, producer=producer, poll_interval_s=0.5)

    async def run(self) -> None:
        """Makes the loop's HTTP client (loading the trusted certificates: 0.2 s of CPU on a slow machine) and
        loads the event-loop backend its connection pool takes on its first request (anyio's, a module of
        4,000 lines: 30-110 ms) before the first delivery falls due, not while it waits."""
        _client()
        anyio.get_cancelled_exc_class()
        await super().run()

    async def prepare(self, conn: asyncpg.Connection, deadlines: list[Deadline]) -> None:
        uow = self._unit_of_work(conn)
        for deadline in deadlines:
            if deadline.id in self.started:  # a pass made again one by one sends each attempt once
                continue
            key, number = _attempt_of(deadline)
            pending = await self.store.pending(uow, key)
            if pending is not None:
                self.started[deadline.id] = asyncio.create_task(pending.send(number, self.timeout_s))

    async def fire_due(self) -> int:
        try:
            return await super().fire_due()
        finally:  # a pass that failed before recording an attempt makes it again next time
            for task in self.started.values():
                task.cancel()
            self.started.clear()


def delivery_loop(
    pool: asyncpg.Pool,
    producer: Producer,
    kind: str,
    store: DeliveryStore,
    *,
    retry_base_s: float,
    max_attempts: int,
    timeout_s: float = 5.0,
) -> TimerLoop:
    """The timer loop of ``kind`` deliveries alone, beside the service's other timers: a slow receiver holds
    back only other deliveries (each attempt at most ``timeout_s``), never a rule's deadline. The POST runs
    while the delivery's row is locked in the loop's transaction, so two loops never make the same attempt."""
    return DeliveryLoop(
        pool,
        producer,
        kind,
        store,
        retry_base_s=retry_base_s,
        max_attempts=max_attempts,
        timeout_s=timeout_s,
    )

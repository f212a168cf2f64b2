"""The outbox relay: publishes outbox rows to Kafka and deletes them once the broker acknowledged.

One relay per service is active at a time: it holds a PostgreSQL advisory lock on its own connection; a
second instance polls for the lock and takes over when the first dies (its connection, and so its lock,
goes with it). The relay is woken by LISTEN/NOTIFY and sweeps every ``sweep_interval_s`` in case a
notification was missed. Rows go out in id order through an idempotent producer (acks=all), so the events of
one person (one key, one partition) keep their order. Delivery is at least once; consumers deduplicate by
event id.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

import asyncpg
from aiokafka import AIOKafkaProducer

from dipflow.events.errors import run_with_restarts
from dipflow.events.outbox import NOTIFY_CHANNEL
from dipflow.kafka.clients import stop_within
from dipflow.kafka.connection import kafka_options
from dipflow.kafka.partitioner import RememberingPartitioner
from dipflow.logging import get_logger
from dipflow.waking import woken

log = get_logger("dipflow.relay")


def lock_key(service: str) -> int:
    return int.from_bytes(hashlib.sha256(f"outbox-relay:{service}".encode()).digest()[:8], "big", signed=True)


def idempotent_producer(bootstrap: str, **overrides: object) -> AIOKafkaProducer:
    """A producer that writes each record once (idempotent, acknowledged by all in-sync replicas), keyed
    records to Kafka's own partition for the key (:class:`RememberingPartitioner`)."""
    config: dict[str, object] = {
        **kafka_options(bootstrap),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30000,
        "compression_type": None,
        "partitioner": RememberingPartitioner(),
    }
    config.update(overrides)
    return AIOKafkaProducer(**config)


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        bootstrap: str,
        *,
        service: str,
        batch_size: int = 1000,
        sweep_interval_s: float = 1.0,
        lock_retry_s: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.bootstrap = bootstrap
        self.service = service
        self.batch_size = batch_size
        self.sweep_interval_s = sweep_interval_s
        self.lock_retry_s = lock_retry_s
        self.is_leader = False
        self.published = 0
        self.last_error: str | None = None
        self.last_progress_at = time.monotonic()

    async def run(self) -> None:
        """Run until cancelled, surviving database and broker outages."""
        await run_with_restarts(
            self._session, event="relay_interrupted", log=log, on_failure=self._lost, service=self.service
        )

    def _lost(self, exc: BaseException) -> None:
        self.is_leader = False
        self.last_error = f"{type(exc).__name__}: {exc}"

    async def _session(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.service)):
                self.is_leader = False
                await asyncio.sleep(self.lock_retry_s)
            self.is_leader = True
            log.info("relay_leading", service=self.service)
            wake = asyncio.Event()
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
            producer = idempotent_producer(self.bootstrap)
            try:
                await producer.start()
                while True:
                    wake.clear()
                    sent = await self.publish_batch(conn, producer)
                    if sent < self.batch_size:
                        await woken(wake, self.sweep_interval_s)
            finally:
                await stop_within(producer)
        finally:
            self.is_leader = False
            await _close_quietly(conn)

    async def publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value FROM outbox ORDER BY id LIMIT $1", self.batch_size
        )
        if not rows:
            self.last_progress_at = time.monotonic()
            return 0
        pending = [await producer.send(r["topic"], r["value"], key=r["key"]) for r in rows]
        await asyncio.gather(*pending)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        self.published += len(rows)
        self.last_progress_at = time.monotonic()
        return len(rows)


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 5)
    except Exception:
        conn.terminate()

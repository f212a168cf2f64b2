"""Replay: rebuild a consumer's tables from the beginning of its topics, into fresh tables.

The copies live in their own schema (``replay_<name>``), created ``LIKE`` the live tables, and the handler
runs with ``search_path`` set to that schema first, so the same unqualified SQL writes the copies. Replay
reads with no consumer group and commits no offsets: the running consumer is not disturbed. It stops at the
end offsets seen when it started. Records that do not parse are counted and skipped (the live consumer has
already dead-lettered them).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dipflow.db import connect_pool
from dipflow.events.consumer import Handler, Parsed, apply_events, parse_record
from dipflow.events.envelope import EventRegistry
from dipflow.events.errors import Backoff, is_transient
from dipflow.heap import steady_collection
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.uow import Producer

PARALLEL = 4
NOTHING_PUBLISHED = Producer("replay", "replay.nothing")
_RETRIES = 5
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ReplaySpec:
    """What a service declares so its read models can be rebuilt."""

    group_id: str
    topics: Sequence[str]
    registry: EventRegistry
    handler: Handler
    tables: Sequence[str]
    producer: Producer = NOTHING_PUBLISHED
    """A replayed read model emits nothing; what a handler would emit goes nowhere it is published from."""


@dataclass(frozen=True)
class ReplayResult:
    schema: str
    total: int
    applied: int
    duplicates: int
    skipped: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


Progress = Callable[[int, int], None]


async def replay(
    spec: ReplaySpec, *, dsn: str, bootstrap: str, schema: str, progress: Progress | None = None
) -> ReplayResult:
    """Rebuild ``spec``'s tables in ``schema`` from its topics as they stand at the start; garbage is collected
    as in a running service (:func:`dipflow.heap.steady_collection`)."""
    with steady_collection():
        return await _replay(spec, dsn=dsn, bootstrap=bootstrap, schema=schema, progress=progress)


async def _replay(
    spec: ReplaySpec, *, dsn: str, bootstrap: str, schema: str, progress: Progress | None
) -> ReplayResult:
    if not _SCHEMA.match(schema) or schema in ("public", "pg_catalog"):
        raise ValueError(f"bad replay schema name {schema!r}")
    for table in spec.tables:
        if not _SCHEMA.match(table):
            raise ValueError(f"bad table name {table!r}")
    started = time.monotonic()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.execute(f"CREATE SCHEMA {schema}")
        for table in (*spec.tables, "inbox"):
            await admin.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    finally:
        await admin.close()

    pool = await connect_pool(
        dsn, min_size=1, max_size=PARALLEL, server_settings={"search_path": f"{schema},public"}
    )
    consumer = AIOKafkaConsumer(
        **kafka_consumer_options(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 2**20,
    )
    await consumer.start()
    counts = _Counts()
    try:
        partitions = await _partitions(bootstrap, spec.topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        total = sum(ends[tp] - beginnings[tp] for tp in partitions)
        remaining = {tp for tp in partitions if ends[tp] > beginnings[tp]}
        if progress:
            progress(0, total)
        # Each partition's batches apply in order (a task waits for the previous one of its partition number:
        # same number, same people, on every topic); other partitions overlap, up to PARALLEL
        # transactions, while the next records are fetched.
        last: dict[int, asyncio.Task[None]] = {}
        in_flight: set[asyncio.Task[None]] = set()

        async def apply(
            tp: TopicPartition, records: list[ConsumerRecord[Any, Any]], after: asyncio.Task[None] | None
        ) -> None:
            if after is not None:
                await after
            await _apply_records(spec, pool, tp, records, counts)
            if progress:
                progress(counts.done, total)

        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                records = [r for r in records if r.offset < ends[tp]]
                task = asyncio.create_task(apply(tp, records, last.get(tp.partition)))
                last[tp.partition] = task
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            while len(in_flight) > 4 * PARALLEL:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in [t for t in last.values() if t.done()]:
                task.result()  # a failed batch stops the replay
        await asyncio.gather(*in_flight)
        for task in last.values():
            task.result()
    finally:
        for task in in_flight:
            task.cancel()
        await consumer.stop()
        await pool.close()
    return ReplayResult(
        schema, total, counts.applied, counts.duplicates, counts.skipped, time.monotonic() - started
    )


@dataclass
class _Counts:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    done: int = 0


async def _apply_records(
    spec: ReplaySpec,
    pool: asyncpg.Pool,
    tp: TopicPartition,
    records: list[ConsumerRecord[Any, Any]],
    counts: _Counts,
) -> None:
    parsed: list[Parsed] = []
    for record in records:
        outcome = parse_record(spec.registry, record) if record.value is not None else None
        if isinstance(outcome, Parsed):
            parsed.append(outcome)
        else:
            counts.skipped += 1
    backoff = Backoff()
    for attempt in range(_RETRIES + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                applied, duplicates = await apply_events(
                    conn, spec.group_id, tp, parsed, spec.handler, spec.producer
                )
            break
        except Exception as exc:
            if attempt == _RETRIES or not is_transient(exc):
                raise
            await asyncio.sleep(backoff.next())
    counts.applied += applied
    counts.duplicates += duplicates
    counts.done += len(records)


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(
        (TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]),
        key=lambda tp: (tp.topic, tp.partition),
    )

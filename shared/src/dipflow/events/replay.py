"""Replay: rebuild a consumer's tables from the beginning of its topics, into fresh tables.

The copies live in their own schema (``replay_<name>``), created ``LIKE`` the live tables, and the handler
runs with ``search_path`` set to that schema first, so the same unqualified SQL writes the copies. Replay
reads with no consumer group and commits no offsets: the running consumer is not disturbed. It stops at the
end offsets seen when it started. Records that do not parse are counted and skipped (the live consumer has
already dead-lettered them). Decoding and validating records takes most of a replay's time, so a spec named
by ``module:attribute`` can be replayed by several worker processes (:mod:`dipflow.events.replay_worker`), one
share of the partitions each.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import sys
import time
from collections import deque
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
from dipflow.events.replay_worker import Share
from dipflow.heap import steady_collection
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.uow import Producer

PARALLEL = 4
QUICK_RETRY_MS = 10
"""aiokafka asks for offsets and fetches before it holds the topics' metadata, and asks again after its retry
backoff (100 ms by default, twice before a replay starts); a replay's own clients retry sooner."""
SHORT_FETCH_WAIT_MS = 20
"""How long a replay's fetch waits at the broker for records: a partition still replaying has records waiting, and
a fetch for one replayed to its end must not hold the replay's close for the service's longer wait."""
RECORDS_PER_PROCESS = 100_000
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


def load_spec(target: str) -> ReplaySpec:
    """The spec at ``module:attribute`` (a :class:`ReplaySpec`, or a function returning one)."""
    module_name, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module_name), attribute)
    spec = found if isinstance(found, ReplaySpec) else found()
    if not isinstance(spec, ReplaySpec):
        raise TypeError(f"{target} is not a ReplaySpec")
    return spec


def processes_for(records: int, cpus: int) -> int:
    """One process per CPU, each with at least :data:`RECORDS_PER_PROCESS` records: starting a process costs
    about a second of CPU (imports, a consumer, a pool), more than a small replay saves by sharing."""
    return max(1, min(cpus, records // RECORDS_PER_PROCESS))


async def replay(
    spec: ReplaySpec | str,
    *,
    dsn: str,
    bootstrap: str,
    schema: str,
    progress: Progress | None = None,
    processes: int | None = 1,
) -> ReplayResult:
    """Rebuild ``spec``'s tables into ``schema`` up to the end offsets seen at the start. A spec given by
    ``module:attribute`` may be replayed by several ``processes`` (None: :func:`processes_for` the records),
    each taking whole partition numbers (a person's events share one number on every topic, so each person's
    events still apply in order). Garbage is collected as in a running service
    (:func:`dipflow.heap.steady_collection`), in every process."""
    with steady_collection():
        return await _replay(
            spec, dsn=dsn, bootstrap=bootstrap, schema=schema, progress=progress, processes=processes
        )


async def _replay(
    spec: ReplaySpec | str,
    *,
    dsn: str,
    bootstrap: str,
    schema: str,
    progress: Progress | None,
    processes: int | None,
) -> ReplayResult:
    loaded = load_spec(spec) if isinstance(spec, str) else spec
    if not _SCHEMA.match(schema) or schema in ("public", "pg_catalog"):
        raise ValueError(f"bad replay schema name {schema!r}")
    for table in loaded.tables:
        if not _SCHEMA.match(table):
            raise ValueError(f"bad table name {table!r}")
    started = time.monotonic()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.execute(f"CREATE SCHEMA {schema}")
        for table in (*loaded.tables, "inbox"):
            await admin.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")
    finally:
        await admin.close()
    spans = await _spans(bootstrap, loaded.topics)
    total = sum(end - beginning for _, beginning, end in spans)
    if progress:
        progress(0, total)
    if processes is None:
        processes = processes_for(total, os.cpu_count() or 1)
    numbers = sorted({tp.partition for tp, _, _ in spans})
    shares = [[s for s in spans if s[0].partition in numbers[i::processes]] for i in range(processes)]
    shares = [share for share in shares if share]
    if isinstance(spec, str) and len(shares) > 1:
        counts = await _in_processes(spec, dsn, bootstrap, schema, shares, total, progress)
    else:
        counts = Counts()
        await replay_spans(loaded, dsn, bootstrap, schema, spans, counts, progress, total)
    return ReplayResult(
        schema, total, counts.applied, counts.duplicates, counts.skipped, time.monotonic() - started
    )


Span = tuple[TopicPartition, int, int]
"""A partition and the offsets to replay: from its beginning to the end seen at the start."""


def replay_consumer_options(bootstrap: str) -> dict[str, Any]:
    """A replay's consumer: no group, no offsets committed, quick retries and short fetch waits whatever the
    service's ``DIPFLOW_KAFKA_FETCH_WAIT_MS``."""
    return {
        **kafka_consumer_options(bootstrap),
        "group_id": None,
        "enable_auto_commit": False,
        "retry_backoff_ms": QUICK_RETRY_MS,
        "fetch_max_wait_ms": SHORT_FETCH_WAIT_MS,
    }


async def _spans(bootstrap: str, topics: Sequence[str]) -> list[Span]:
    partitions = await _partitions(bootstrap, topics)
    consumer = AIOKafkaConsumer(**replay_consumer_options(bootstrap))
    await consumer.start()
    try:
        beginnings = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return [(tp, beginnings[tp], ends[tp]) for tp in partitions]


async def replay_spans(
    spec: ReplaySpec,
    dsn: str,
    bootstrap: str,
    schema: str,
    spans: list[Span],
    counts: Counts,
    progress: Progress | None,
    total: int,
) -> None:
    """``spans`` replayed into ``schema`` in this process, ``counts`` kept as each batch is applied."""
    pool = await connect_pool(
        dsn, min_size=1, max_size=PARALLEL, server_settings={"search_path": f"{schema},public"}
    )
    consumer = AIOKafkaConsumer(**replay_consumer_options(bootstrap), max_partition_fetch_bytes=4 * 2**20)
    await consumer.start()
    # Each partition's batches apply in order (a task waits for the previous one of its partition number:
    # same number, same people, on every topic); other partitions overlap, up to PARALLEL
    # transactions, while the next records are fetched. A partition replayed to its end is paused: nothing
    # more is fetched for it.
    last: dict[int, asyncio.Task[None]] = {}
    in_flight: set[asyncio.Task[None]] = set()
    try:
        ends = {tp: end for tp, _, end in spans}
        consumer.assign(list(ends))
        for tp, beginning, _ in spans:
            consumer.seek(tp, beginning)
        remaining = {tp for tp, beginning, end in spans if end > beginning}

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
            consumer.pause(*(ends.keys() - remaining))
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


async def _in_processes(
    target: str,
    dsn: str,
    bootstrap: str,
    schema: str,
    shares: list[list[Span]],
    total: int,
    progress: Progress | None,
) -> Counts:
    """Each share replayed by a worker process of its own (:mod:`dipflow.events.replay_worker`); if one fails,
    the others are stopped and its reason raised."""
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dipflow.events.replay_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in shares
    ]
    done = [0] * len(shares)
    counts = Counts()

    async def run(n: int, worker: asyncio.subprocess.Process, share: list[Span]) -> None:
        assert worker.stdin and worker.stdout and worker.stderr
        spans = [(tp.topic, tp.partition, beginning, end) for tp, beginning, end in share]
        worker.stdin.write(Share(target, dsn, bootstrap, schema, spans, list(sys.path)).to_json())
        await worker.stdin.drain()
        worker.stdin.close()
        errors = asyncio.create_task(_pass_on(worker.stderr))
        async for line in worker.stdout:
            told: dict[str, int] = json.loads(line)
            if "done" in told:
                done[n] = told["done"]
                if progress:
                    progress(sum(done), total)
            else:
                counts.applied += told["applied"]
                counts.duplicates += told["duplicates"]
                counts.skipped += told["skipped"]
        if await worker.wait() != 0:
            told_why = (await errors).strip()
            reason = told_why.splitlines()[-1] if told_why else "no reason given"
            raise RuntimeError(
                f"a replay worker exited with {worker.returncode}: {reason}\n{told_why[-2000:]}"
            )

    try:
        await asyncio.gather(
            *(run(n, w, share) for n, (w, share) in enumerate(zip(workers, shares, strict=True)))
        )
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    counts.done = total
    return counts


async def _pass_on(stream: asyncio.StreamReader) -> str:
    """A worker's standard error passed on to this process's, line by line; its last lines kept for a reason."""
    tail: deque[str] = deque(maxlen=40)
    async for raw in stream:
        line = raw.decode(errors="replace")
        sys.stderr.write(line)
        tail.append(line)
    return "".join(tail)


@dataclass
class Counts:
    """Records applied, already in the copy's inbox, skipped as unreadable, and done (all three) so far."""

    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    done: int = 0


async def _apply_records(
    spec: ReplaySpec,
    pool: asyncpg.Pool,
    tp: TopicPartition,
    records: list[ConsumerRecord[Any, Any]],
    counts: Counts,
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
                    conn, spec.group_id, parsed, spec.handler, spec.producer
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

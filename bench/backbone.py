"""Throughput of the event backbone (outbox relay, idempotent consumer) against real Kafka and PostgreSQL.

    python -m bench.backbone --events 50000

Starts its own broker and server on free ports (``.local/bench-infra/<random>``, deleted afterwards), then,
in one run: a raw aiokafka baseline (produce, consume), the outbox write rate, the relay and the idempotent
consumer. Prints a table and writes ``bench/results/<date>-backbone.{json,md}``. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import structlog
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console

from bench.infra import BenchInfra, bench_infra
from bench.report import Metric, Result, machine_info, print_table, write_results
from bench.sample import EFFECTS_TABLE, EVENTS_TOPIC, RAW_TOPIC, REGISTRY, record_effect, sample_event
from dipflow.db import apply_migrations, connect_pool, ensure_database, load_migrations, server_dsn
from dipflow.db.appends import Writes
from dipflow.devstack.probe import PROBE_PRODUCER
from dipflow.events import Envelope
from dipflow.events.consumer import ConsumerLimits, EventConsumer
from dipflow.events.outbox import add_to_outbox
from dipflow.events.relay import OutboxRelay
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options, kafka_options, redacted
from dipflow.topics import TopicSpec

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WARMUP_TOPIC = "bench.warmup.v1"
WARMUP_EVENTS = 20_000  # the broker runs C1-compiled (TieredStopAtLevel=1) and starts cold
POLL_S = 0.005

console = Console(width=None if sys.stdout.isatty() else 120)  # make pipes: do not wrap at 80


class BenchFailure(RuntimeError):
    """A check failed or a phase did not finish: the numbers would be meaningless."""


@dataclass(frozen=True)
class Config:
    events: int
    txn_size: int
    relay_batch: int
    consumer_batch: int
    partitions: int
    durable: bool
    phase_timeout_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "outbox_txn_size": self.txn_size,
            "relay_batch_size": self.relay_batch,
            "consumer_max_batch": self.consumer_batch,
            "partitions": self.partitions,
            "postgres_durable": self.durable,
        }


@dataclass
class Stopwatch:
    """Time from start to done, and to the first unit of progress (connect, group join, first batch)."""

    started: float = field(default_factory=time.perf_counter)
    first: float | None = None

    def progress(self, count: int) -> None:
        if self.first is None and count > 0:
            self.first = time.perf_counter()

    def metric(self, key: str, label: str, events: int, **kwargs: Any) -> Metric:
        end = time.perf_counter()
        first = None if self.first is None else self.first - self.started
        return Metric(key, label, events, end - self.started, first_after_s=first, **kwargs)


# -- raw aiokafka baseline ---------------------------------------------------------------------------------


def raw_producer(bootstrap: str) -> AIOKafkaProducer:
    """The relay's producer settings (acks=all, idempotent, same linger and batch size), built by hand."""
    return AIOKafkaProducer(
        **kafka_options(bootstrap),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
        compression_type=None,
    )


async def produce_raw(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]], chunk: int
) -> Metric:
    """Send ``chunk`` records, wait for all their acks, next chunk: the relay's pipelining without PostgreSQL."""
    watch = Stopwatch()
    producer = raw_producer(bootstrap)
    await producer.start()
    try:
        for start in range(0, len(records), chunk):
            pending = [
                await producer.send(topic, value, key=key) for key, value in records[start : start + chunk]
            ]
            await asyncio.gather(*pending)
            watch.progress(1)
    finally:
        await producer.stop()
    return watch.metric("raw_produce", "Raw producer (baseline)", len(records))


async def consume_raw(bootstrap: str, topic: str, expected: int, cfg: Config) -> Metric:
    watch = Stopwatch()
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_consumer_options(bootstrap),
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=cfg.consumer_batch,
    )
    await consumer.start()
    seen = 0
    try:
        deadline = time.monotonic() + cfg.phase_timeout_s
        while seen < expected:
            if time.monotonic() > deadline:
                raise BenchFailure(
                    f"raw consumer read {seen}/{expected} records in {cfg.phase_timeout_s:.0f}s"
                )
            batches = await consumer.getmany(timeout_ms=200, max_records=cfg.consumer_batch)
            seen += sum(len(records) for records in batches.values())
            watch.progress(seen)
    finally:
        await consumer.stop()
    if seen != expected:
        raise BenchFailure(f"raw consumer read {seen} records, expected {expected}")
    return watch.metric("raw_consume", "Raw consumer (baseline)", seen)


async def topic_size(bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(**kafka_consumer_options(bootstrap))
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


# -- the backbone ------------------------------------------------------------------------------------------


async def write_outbox(dsn: str, topic: str, envelopes: Sequence[Envelope], txn_size: int) -> Metric:
    conn = await asyncpg.connect(dsn)
    try:
        watch = Stopwatch()
        for start in range(0, len(envelopes), txn_size):
            async with conn.transaction():
                await add_to_outbox(Writes(conn), topic, envelopes[start : start + txn_size])
            watch.progress(1)
        metric = watch.metric("outbox_write", f"Outbox write (txn of {txn_size})", len(envelopes))
        queued = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    if queued != len(envelopes):
        raise BenchFailure(f"outbox holds {queued} rows after writing {len(envelopes)}")
    return metric


async def wait_for(
    count: Callable[[], int],
    target: int,
    watch: Stopwatch,
    timeout_s: float,
    what: str,
    detail: Callable[[], str],
) -> None:
    deadline = time.monotonic() + timeout_s
    while (done := count()) < target:
        watch.progress(done)
        if time.monotonic() > deadline:
            raise BenchFailure(f"{what}: {done}/{target} after {timeout_s:.0f}s; {detail()}")
        await asyncio.sleep(POLL_S)
    watch.progress(done)


async def stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def run_relay(dsn: str, bootstrap: str, cfg: Config) -> Metric:
    relay = OutboxRelay(dsn, bootstrap, service="bench", batch_size=cfg.relay_batch)
    watch = Stopwatch()
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(
            lambda: relay.published,
            cfg.events,
            watch,
            cfg.phase_timeout_s,
            "relay",
            lambda: f"last error: {relay.last_error}",
        )
        metric = watch.metric("relay", f"Outbox relay (batch {cfg.relay_batch})", relay.published)
    finally:
        await stop_task(task)
    if relay.last_error is not None:
        metric.note = f"relay restarted after: {relay.last_error}"
    return metric


async def run_consumer(pool: asyncpg.Pool, bootstrap: str, cfg: Config) -> tuple[Metric, EventConsumer]:
    consumer = EventConsumer(
        bootstrap=bootstrap,
        pool=pool,
        group_id="bench-consumer",
        topics=[EVENTS_TOPIC.name],
        registry=REGISTRY,
        handler=record_effect,
        producer=PROBE_PRODUCER,
        limits=ConsumerLimits(max_batch=cfg.consumer_batch),
    )
    watch = Stopwatch()
    task = asyncio.create_task(consumer.run())
    try:
        await wait_for(
            lambda: consumer.applied,
            cfg.events,
            watch,
            cfg.phase_timeout_s,
            "idempotent consumer",
            lambda: f"duplicates {consumer.duplicates}, dead-lettered {consumer.dead_lettered}",
        )
        label = f"Idempotent consumer (batch {cfg.consumer_batch})"
        metric = watch.metric("consumer", label, consumer.applied)
    finally:
        await stop_task(task)
    return metric, consumer


async def check_exactly_once(
    pool: asyncpg.Pool, envelopes: Sequence[Envelope], consumer: EventConsumer
) -> dict[str, Any]:
    """One effects row per event written, no more, no fewer, and every one of them; fail loudly otherwise."""
    expected = {e.event_id for e in envelopes}
    async with pool.acquire() as conn:
        rows, distinct = await conn.fetchrow("SELECT count(*), count(DISTINCT event_id) FROM effects")
        applied_ids = {r["event_id"] for r in await conn.fetch("SELECT DISTINCT event_id FROM effects")}
        inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer_group = 'bench-consumer'")
        outbox_left = await conn.fetchval("SELECT count(*) FROM outbox")
    checks = {
        "effects_rows": rows,
        "effects_distinct_event_ids": distinct,
        "effects_match_written_ids": applied_ids == expected,
        "inbox_rows": inbox,
        "outbox_rows_left": outbox_left,
        "consumer_duplicates_skipped": consumer.duplicates,
        "consumer_dead_lettered": consumer.dead_lettered,
    }
    problems = []
    if rows != len(expected) or distinct != len(expected):
        problems.append(f"effects: {rows} rows, {distinct} distinct event ids, expected {len(expected)}")
    if applied_ids != expected:
        problems.append(
            f"effects event ids differ from those written: {len(expected - applied_ids)} missing, "
            f"{len(applied_ids - expected)} unknown"
        )
    if inbox != len(expected):
        problems.append(f"inbox holds {inbox} rows, expected {len(expected)}")
    if outbox_left != 0:
        problems.append(f"outbox still holds {outbox_left} rows")
    if consumer.dead_lettered:
        problems.append(f"{consumer.dead_lettered} events were dead-lettered")
    if problems:
        raise BenchFailure("exactly-once check failed: " + "; ".join(problems))
    return checks


# -- the run -----------------------------------------------------------------------------------------------


async def prepare_database(dsn: str) -> str:
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await conn.execute(EFFECTS_TABLE)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def bench(infra: BenchInfra, cfg: Config) -> Result:
    bootstrap = infra.bootstrap
    dsn = server_dsn(infra.server_dsn, "bench")
    pg_version = await prepare_database(dsn)
    events_topic = TopicSpec(EVENTS_TOPIC.name, partitions=cfg.partitions)
    raw_topic = TopicSpec(RAW_TOPIC.name, partitions=cfg.partitions)
    await ensure_topics(
        bootstrap,
        [events_topic, events_topic.dead_letter(), raw_topic, TopicSpec(WARMUP_TOPIC, cfg.partitions)],
    )

    envelopes = [sample_event(i) for i in range(cfg.events)]
    records = [(e.key, e.to_bytes()) for e in envelopes]
    record_bytes = sum(len(v) for _, v in records) / len(records)
    metrics: dict[str, Metric] = {}

    def done(metric: Metric) -> None:
        metrics[metric.key] = metric
        console.print(
            f"  [green]✓[/] {metric.label}: {metric.events:,} events in {metric.seconds:.2f}s "
            f"→ [bold]{metric.rate:,.0f}[/] events/s"
        )

    console.print(
        f"[bold]Backbone bench[/]: {cfg.events:,} events of {record_bytes:.0f} bytes, "
        f"{cfg.partitions} partitions, Kafka {infra.kafka_version} at {redacted(bootstrap)}, PostgreSQL {pg_version}"
    )
    with console.status("warming up the broker"):
        warm = records[: min(WARMUP_EVENTS, len(records))]
        await produce_raw(bootstrap, WARMUP_TOPIC, warm, cfg.relay_batch)
        await consume_raw(bootstrap, WARMUP_TOPIC, len(warm), cfg)

    with console.status("raw producer"):
        done(await produce_raw(bootstrap, raw_topic.name, records, cfg.relay_batch))
    with console.status("raw consumer"):
        done(await consume_raw(bootstrap, raw_topic.name, len(records), cfg))
    with console.status("outbox write"):
        done(await write_outbox(dsn, events_topic.name, envelopes, cfg.txn_size))
    with console.status("outbox relay"):
        done(await run_relay(dsn, bootstrap, cfg))
    on_topic = await topic_size(bootstrap, events_topic.name, cfg.partitions)

    pool = await connect_pool(dsn, min_size=1, max_size=4)
    try:
        with console.status("idempotent consumer"):
            metric, consumer = await run_consumer(pool, bootstrap, cfg)
            done(metric)
        checks = await check_exactly_once(pool, envelopes, consumer)
    finally:
        await pool.close()
    checks["records_on_events_topic"] = on_topic
    console.print(
        f"  [green]✓[/] exactly once: {checks['effects_rows']:,} effects rows, "
        f"{checks['effects_distinct_event_ids']:,} distinct event ids "
        f"({on_topic:,} records on the topic, {consumer.duplicates} duplicates skipped)"
    )

    metrics["relay"].baseline = "raw_produce"
    metrics["consumer"].baseline = "raw_consume"
    config = {**cfg.as_dict(), "record_bytes_avg": round(record_bytes, 1)}
    machine = machine_info(kafka=infra.kafka_version, postgres=pg_version)
    return Result(config=config, machine=machine, metrics=metrics, checks=checks)


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    events: Annotated[int, typer.Option(min=1, help="Events per measurement.")] = 50_000,
    txn_size: Annotated[int, typer.Option(min=1, help="Events per outbox-write transaction.")] = 500,
    relay_batch: Annotated[int, typer.Option(min=1, help="OutboxRelay batch_size.")] = 1000,
    consumer_batch: Annotated[int, typer.Option(min=1, help="EventConsumer max_batch.")] = 500,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the bench topics.")] = 6,
    durable: Annotated[
        bool, typer.Option("--durable/--no-fsync", help="PostgreSQL with fsync (default) or without.")
    ] = True,
    phase_timeout: Annotated[
        float, typer.Option(help="Seconds a phase may take before the bench fails.")
    ] = 120.0,
    results_dir: Annotated[Path, typer.Option(help="Where the JSON and Markdown results go.")] = RESULTS_DIR,
) -> None:
    """Measure outbox write, relay and idempotent consumer throughput next to a raw aiokafka baseline."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    cfg = Config(events, txn_size, relay_batch, consumer_batch, partitions, durable, phase_timeout)
    started = time.perf_counter()
    try:
        with (
            console.status("starting Kafka and PostgreSQL on free ports"),
            bench_infra(durable=durable) as infra,
        ):
            console.print(f"servers up in {time.perf_counter() - started:.1f}s")
            result = asyncio.run(bench(infra, cfg))
    except BenchFailure as exc:
        console.print(f"[bold red]BENCH FAILED[/]: {exc}")
        raise typer.Exit(1) from exc
    result.wall_s = time.perf_counter() - started
    print_table(console, result)
    json_path, md_path = write_results(result, results_dir)
    console.print(f"wrote {json_path} and {md_path} (whole run {result.wall_s:.0f}s)")


if __name__ == "__main__":
    app()

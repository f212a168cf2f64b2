"""`make bench`: the whole pipeline against this machine's own limit, measured in one run, side by side.

    python -m bench.pipeline                 (make bench; about 6 minutes on 2 cores)
    python -m bench.pipeline --quick         (smaller stages, for a try-out)

1. Cold start: the servers and the four services from nothing to every ``/readyz`` answering 200.
2. Limit baseline: a raw aiokafka produce→consume round trip with records of the pipeline's size on the same
   broker, and the raw PostgreSQL commit rate of the outbox/inbox statement shape on the same server.
3. Pipeline throughput: generated custody journeys (bench/drill.py's mix, sent as custody suites send commands
   on Kafka) offered at rising rates until a stage does not hold, then twice halfway between the highest that
   held and the lowest that did not; an event is one record applied by one service's consumer (one inbox
   row, deduplicated by event id in the transaction of its effects). A stage holds when the services drain
   what it offered within a quarter of its length. Then a reconciliation: every journey's effects exactly once.
4. Latency at about 200 events/s: positive result accepted by custody (HTTP 200) → the assignment arriving on
   the worker's live inbox stream (server-sent events).
5. Replay: a year of a large force's history rebuilt into the PPO register's read models (bench/replay.py).
6. Footprint: each service's resident memory idle and its maximum under load.

Writes ``bench/results/<date>.json``, ``<date>.md`` and ``<date>.png``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import orjson
import psutil
import typer
import uvicorn
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI, Request
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from bench.cpu import busy_seconds, cpu_by_process, used_since
from bench.drill import KAFKA_ONLY_MIX, SECRET, Journey, System, generate
from bench.infra import BenchInfra
from bench.load_senders import LoadSenders
from bench.peer import run_peer
from bench.replay import replay_figures
from dipflow.auth import Role, mint_token
from dipflow.db import apply_migrations, load_migrations
from dipflow.db.database import ensure_database, server_dsn
from dipflow.devstack import free_port
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES
from dipflow.devstack.stack import StackAddresses
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import TopicSpec
from dipflow.working_days import LONDON, is_working_day

console = Console()
ROOT = project_root()
RESULTS = ROOT / "bench" / "results"
SERVICE_NAMES = [s.name for s in SERVICES]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def spread(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 1),
        "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


# -- 2. the machine's limit ----------------------------------------------------------------------------------


async def raw_kafka(bootstrap: str, records: int, size: int) -> dict[str, Any]:
    """Produce ``records`` of ``size`` bytes (acks=all, idempotent, as the relay does) to a fresh 6-partition
    topic while one consumer reads them; events/s from the first send to the last receipt, and each record's
    latency (its send time travels in the value)."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, partitions=6)])
    consumer = AIOKafkaConsumer(
        **{**kafka_consumer_options(bootstrap), "fetch_max_wait_ms": 5},
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 2**20,
    )
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(6)])
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    latencies: list[float] = []
    padding = b"x" * max(0, size - 40)

    async def read() -> None:
        while len(latencies) < records:
            for batch in (await consumer.getmany(timeout_ms=100, max_records=5000)).values():
                now = time.perf_counter()
                latencies.extend((now - float(r.value[:20])) * 1000 for r in batch)

    reader = asyncio.create_task(read())
    started = time.perf_counter()
    try:
        pending = []
        for i in range(records):
            value = f"{time.perf_counter():20.6f}".encode() + padding
            pending.append(await producer.send(topic, value, key=f"L-{i % 5000}".encode()))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await asyncio.wait_for(reader, 120)
        seconds = time.perf_counter() - started
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    return {
        "records": records,
        "bytes": size,
        "seconds": round(seconds, 2),
        "events_per_s": round(records / seconds, 1),
        "latency": spread(latencies),
    }


async def raw_postgres(dsn: str, seconds: float, connections: int) -> dict[str, Any]:
    """Transactions of the consumer's shape (an inbox row and an outbox row, then commit) from ``connections``
    connections for ``seconds``, on the platform tables of a database of its own."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
    finally:
        await conn.close()
    value = b"x" * 450
    commits = 0
    deadline = time.perf_counter() + seconds

    async def one(n: int) -> None:
        nonlocal commits
        c = await asyncpg.connect(dsn)
        try:
            while time.perf_counter() < deadline:
                event = uuid.uuid4()
                async with c.transaction():
                    await c.execute(
                        'INSERT INTO inbox (consumer_group, event_id, topic, partition, "offset") '
                        "VALUES ('bench', $1, 'raw', $2, $3)",
                        event,
                        n,
                        commits,
                    )
                    await c.execute(
                        "INSERT INTO outbox (topic, key, value, event_id) VALUES ('raw', $1, $2, $3)",
                        b"k",
                        value,
                        uuid.uuid4(),
                    )
                commits += 1
        finally:
            await c.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(connections)))
    took = time.perf_counter() - started
    return {"connections": connections, "seconds": round(took, 2), "commits_per_s": round(commits / took, 1)}


# -- 3. pipeline throughput -----------------------------------------------------------------------------------


async def applied_events(pools: dict[str, asyncpg.Pool]) -> dict[str, int]:
    """Records applied by each service's consumers so far (inbox rows: one per event per consumer group): exact,
    but a scan of every inbox, which grows with each stage. Asked only when the services are quiet; while they
    work, :class:`Progress` tells whether they are still applying."""
    return {name: await pool.fetchval("SELECT count(*) FROM inbox") for name, pool in pools.items()}


_INBOX_OUTCOMES = ("applied", "dead_lettered")
_RECORDS = "dipflow_consumer_records_total"


def inbox_records(metrics: str) -> float:
    """From a service's ``/metrics`` text: the records its consumers applied or dead-lettered, all groups
    together (the outcomes that write an inbox row; skipped and duplicate records write none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == _RECORDS and sample.labels.get("outcome") in _INBOX_OUTCOMES
    )


class Progress:
    """Whether the services are still applying records, asked as often as needed without taking CPU from them:
    :func:`inbox_records` of each service's ``/metrics``, asked for that counter alone (``name[]``: the whole
    page cost the service building it and the bench parsing it). Counting the inboxes instead scanned all four
    every half second while the services drained, each scan longer than the last (about 50 to 80 ms of
    PostgreSQL's CPU per poll at the top of the ladder, 2026-12-03-stop51-rerun), so the measure slowed what it
    measured, more with each stage."""

    def __init__(self, system: System, names: Sequence[str]) -> None:
        self.system = system
        self.names = list(names)
        self.client = httpx.AsyncClient(timeout=10)

    async def counts(self) -> dict[str, float]:
        return {name: await self._applied(name) for name in self.names}

    async def _applied(self, name: str) -> float:
        page = await self.client.get(f"{self.system.url(name)}/metrics", params={"name[]": _RECORDS})
        return inbox_records(page.text)

    async def close(self) -> None:
        await self.client.aclose()


async def send_journeys(addresses: StackAddresses, journeys: list[Journey], rate: float) -> int:
    """Each journey's records sent when its time comes (journey ``i`` at ``i / rate`` seconds from the start), as
    the outside systems would send them; the records sent, once all are acknowledged."""
    senders = LoadSenders(addresses, linger_ms=5)
    sent = 0
    started = time.monotonic()
    try:
        for i, j in enumerate(journeys):
            key = j.person_id.encode()
            for topic, value in j.messages:
                senders.send(topic, value, key)
            sent += len(j.messages)
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                senders.serve()
                await asyncio.sleep(ahead)
        await senders.flush()
    finally:
        senders.close()
    return sent


@dataclass
class Stage:
    journeys_per_s: float
    journeys: int
    seconds: float
    commands: int = 0
    applied: int = 0
    drain_s: float = 0.0
    by_service: dict[str, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    machine_cpu_s: float = 0.0
    server: dict[str, float] = field(default_factory=dict)
    """PostgreSQL's WAL (MB), full-page images and checkpoints during the stage (:func:`checkpoint_figures`)."""

    @property
    def applied_per_s(self) -> float:
        return self.applied / (self.seconds + self.drain_s)

    @property
    def held(self) -> bool:
        return self.drain_s <= self.seconds / 4

    def as_dict(self) -> dict[str, Any]:
        return {
            "journeys_per_s": self.journeys_per_s,
            "journeys": self.journeys,
            "seconds": round(self.seconds, 1),
            "commands": self.commands,
            "applied": self.applied,
            "drain_s": round(self.drain_s, 1),
            "applied_per_s": round(self.applied_per_s, 1),
            "held": self.held,
            "by_service": self.by_service,
            "cpu_s": self.cpu_s,
            "machine_cpu_s": self.machine_cpu_s,
            "server": self.server,
        }


SERVER_COUNTERS = """
SELECT w.wal_records, w.wal_fpi, w.wal_bytes::float8, c.num_timed, c.num_requested, c.buffers_written
FROM pg_stat_wal w, pg_stat_checkpointer c
"""
"""The whole PostgreSQL server's WAL and checkpoints so far (``make profile`` reports them too)."""


async def server_counters(dsn: str) -> dict[str, float]:
    """:data:`SERVER_COUNTERS` now."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(SERVER_COUNTERS)
    finally:
        await conn.close()
    assert row is not None
    return {name: float(value) for name, value in row.items()}


def checkpoint_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Between two :func:`server_counters`: WAL written (MB), full-page images (a page's first change after a
    checkpoint is written whole) and checkpoints. A stage slowed by a checkpoint shows it."""
    return {
        "wal_mb": round((after["wal_bytes"] - before["wal_bytes"]) / 1e6, 1),
        "full_page_images": after["wal_fpi"] - before["wal_fpi"],
        "checkpoints": sum(after[k] - before[k] for k in ("num_timed", "num_requested")),
    }


async def settle(
    progress: Progress, pools: dict[str, asyncpg.Pool], quiet_s: float = 3.0, limit_s: float = 180.0
) -> tuple[dict[str, int], float]:
    """Wait until no consumer applied anything for ``quiet_s``; (totals counted in the inboxes once quiet,
    seconds until the last progress)."""
    started = time.monotonic()
    last = await progress.counts()
    last_change = time.monotonic()
    while time.monotonic() - last_change < quiet_s and time.monotonic() - started < limit_s:
        await asyncio.sleep(0.5)
        now = await progress.counts()
        if now != last:
            last, last_change = now, time.monotonic()
    return await applied_events(pools), max(0.0, last_change - started)


async def run_stage(
    system: System,
    pools: dict[str, asyncpg.Pool],
    journeys: list[Journey],
    rate: float,
    watch: Callable[[], Coroutine[Any, Any, None]],
) -> Stage:
    assert system.addresses is not None
    progress = Progress(system, list(pools))
    before, _ = await settle(progress, pools, quiet_s=1.0)
    watcher = asyncio.create_task(watch())
    started = time.monotonic()
    try:
        commands = await send_journeys(system.addresses, journeys, rate)
        seconds = time.monotonic() - started
        after, drain = await settle(progress, pools)
    finally:
        watcher.cancel()
        await progress.close()
    stage = Stage(rate, len(journeys), seconds, commands, sum(after.values()) - sum(before.values()), drain)
    stage.by_service = {k: after[k] - before[k] for k in after}
    return stage


async def reconcile(pools: dict[str, asyncpg.Pool], journeys: list[Journey]) -> dict[str, Any]:
    """Every journey's effects, exactly once: a detention per custody journey, an arrest per detention in the
    PPO register and a booking in breach, an assessment per positive, an order per DRR journey."""
    custody = [j for j in journeys if j.kind in ("positive", "negative")]
    positives = [j for j in journeys if j.kind == "positive"]
    drr = [j for j in journeys if j.kind == "drr"]

    async def count(service: str, sql: str, ids: list[str]) -> int:
        return int(await pools[service].fetchval(sql, ids))

    checks = {
        "custody detentions": (
            len(custody),
            await count(
                "custody",
                "SELECT count(*) FROM detentions WHERE detention_id = ANY($1)",
                [j.detention_id for j in custody],
            ),
        ),
        "referral assessments": (
            len(positives),
            await count(
                "referral",
                "SELECT count(*) FROM assessments WHERE detention_id = ANY($1)",
                [j.detention_id for j in positives],
            ),
        ),
        "ppo-register arrests": (
            len(custody),
            await count(
                "ppo-register",
                "SELECT count(*) FROM arrests WHERE detention_id = ANY($1)",
                [j.detention_id for j in custody],
            ),
        ),
        "breach bookings": (
            len(custody),
            await count(
                "breach",
                "SELECT count(*) FROM bookings WHERE detention_id = ANY($1)",
                [j.detention_id for j in custody],
            ),
        ),
        "breach orders": (
            len(drr),
            await count(
                "breach", "SELECT count(*) FROM orders WHERE order_id = ANY($1)", [j.order_id for j in drr]
            ),
        ),
    }
    return {
        "checks": {k: {"expected": e, "found": f} for k, (e, f) in checks.items()},
        "exact": all(e == f for e, f in checks.values()),
    }


# -- 4. latency ----------------------------------------------------------------------------------------------


@dataclass
class Probe:
    accepted_at: float  # perf_counter when custody answered the positive result
    detention_id: str
    person_id: str


async def latency_run(
    system: System,
    pools: dict[str, asyncpg.Pool],
    background: list[Journey],
    events_per_journey: float,
    events_per_s: float,
    probes: int,
) -> dict[str, Any]:
    """Background journeys at about ``events_per_s`` applied events/s; meanwhile ``probes`` journeys through
    custody's HTTP API at Camden, each assessment assigned to one of the probe workers, whose live inbox
    streams are open."""
    assert system.addresses is not None
    tag = uuid.uuid4().hex[:6].upper()
    manager = _bearer(Role.referral_manager, "camden")
    officer = _bearer(Role.custody_officer, "metropolitan")
    workers = [f"W-P{tag}-{n}" for n in range(12)]
    arrivals: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for w in workers:
            answer = await client.post(
                f"{system.url('referral')}/v1/workers",
                headers=manager,
                json={
                    "worker_id": w,
                    "name": "Probe",
                    "area": "camden",
                    "suites": ["MET-CAMDEN"],
                    "daily_capacity": 50,
                    "working_weekdays": [0, 1, 2, 3, 4, 5, 6],
                },
            )
            answer.raise_for_status()
        ready = asyncio.Event()
        opened = 0

        async def listen(worker: str) -> None:
            nonlocal opened
            headers = _bearer(Role.referral_worker, "camden", worker)
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as sse,
                sse.stream("GET", f"{system.url('referral')}/v1/inbox/stream", headers=headers) as stream,
            ):
                async for line in stream.aiter_lines():
                    if line.startswith(": connected"):
                        opened += 1
                        if opened == len(workers):
                            ready.set()
                    if line.startswith("data: "):
                        arrivals.setdefault(orjson.loads(line[6:])["assessment_id"], time.perf_counter())

        listeners = [asyncio.create_task(listen(w)) for w in workers]
        await asyncio.wait_for(ready.wait(), 30)
        rate = events_per_s / events_per_journey
        load = asyncio.create_task(send_journeys(system.addresses, background, rate))
        progress = Progress(system, list(pools))
        sent: list[Probe] = []
        try:
            await asyncio.sleep(3)  # the background load is flowing
            for n in range(probes):
                sent.append(await _probe(client, system, officer, f"L-P{tag}-{n}"))
                await asyncio.sleep(0.4)
            deadline = time.monotonic() + 30
            while len(arrivals) < len(sent) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            applied_rate = await _applied_rate(progress, 5.0)
            failures = await _failure_latencies(client, system, manager, officer, sent[: len(sent) // 2])
            load.cancel()
            await _drained(progress)  # #25 asks for the alert latency on a quiet machine
            alerts = await _alert_latencies(client, system, manager, officer, sent[len(sent) // 2 :])
        finally:
            load.cancel()
            await progress.close()
            for task in listeners:
                task.cancel()
        rows = (
            await client.get(
                f"{system.url('referral')}/v1/assessments", params={"area": "camden"}, headers=manager
            )
        ).json()
    by_detention = {a["detention_id"]: a["assessment_id"] for a in rows}
    ms = [
        (arrivals[by_detention[p.detention_id]] - p.accepted_at) * 1000
        for p in sent
        if p.detention_id in by_detention and by_detention[p.detention_id] in arrivals
    ]
    return {
        "target_events_per_s": events_per_s,
        "measured_applied_events_per_s": round(applied_rate, 1),
        "probes": len(sent),
        "arrived": len(ms),
        "positive_to_inbox": spread(ms),
        "samples_ms": ms,
        "failure_probes": failures[0],
        "failure_to_liaison": spread(failures[1]),
        "alert_probes": alerts[0],
        "deadline_to_alert_webhook": spread(alerts[1]),
    }


async def _failure_latencies(
    client: httpx.AsyncClient,
    system: System,
    manager: dict[str, str],
    officer: dict[str, str],
    probes: list[Probe],
) -> tuple[int, list[float]]:
    """RA1 imposed, then a failure to attend recorded (referral answers) → the liaison webhook receiving the
    arrest-request notification (breach, through its durable notification timers)."""
    received: dict[str, float] = {}
    hook = FastAPI()

    @hook.post("/hook")
    async def notified(request: Request) -> dict[str, str]:
        body = orjson.loads(await request.body())
        received.setdefault(body.get("person_id", ""), time.perf_counter())
        return {}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hook, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.05)
        admin = _bearer(Role.admin, "*")
        (
            await client.put(
                f"{system.url('breach')}/v1/liaison/camden/webhook",
                headers=admin,
                json={"url": f"http://127.0.0.1:{port}/hook", "secret": "s" * 32},
            )
        ).raise_for_status()
        rows = (
            await client.get(
                f"{system.url('referral')}/v1/assessments", params={"area": "camden"}, headers=manager
            )
        ).json()
        by_detention = {a["detention_id"]: a["assessment_id"] for a in rows}
        failed: dict[str, float] = {}
        for p in probes:
            case = by_detention.get(p.detention_id)
            if case is None:
                continue
            url = f"{system.url('referral')}/v1/assessments/{case}"
            (await client.post(f"{url}/impose", json={}, headers=officer)).raise_for_status()
            answer = await client.post(
                f"{url}/attendance", json={"outcome": "failed_to_attend"}, headers=manager
            )
            answer.raise_for_status()
            failed[p.person_id] = time.perf_counter()
            await asyncio.sleep(0.3)
        deadline = time.monotonic() + 30
        while any(pid not in received for pid in failed) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        if any(pid not in received for pid in failed):
            feed = (
                await client.get(
                    f"{system.url('breach')}/v1/notifications", params={"area": "camden"}, headers=admin
                )
            ).json()
            console.print(
                {
                    "not received": len(failed) - len(received),
                    "feed": [
                        {k: i.get(k) for k in ("kind", "attempts", "delivered_at", "last_error")}
                        for i in feed["items"][:5]
                    ],
                }
            )
        return len(failed), [(received[pid] - at) * 1000 for pid, at in failed.items() if pid in received]
    finally:
        server.should_exit = True
        await serving


async def _alert_latencies(
    client: httpx.AsyncClient,
    system: System,
    manager: dict[str, str],
    officer: dict[str, str],
    probes: list[Probe],
) -> tuple[int, list[float]]:
    """RA1 served with an appointment two seconds ahead; with no attendance recorded, the A4 clock falls due at
    the appointment (the bench's referral runs with no grace period) → the worker's alert webhook receiving
    ``raised``. The latency runs from the deadline (the alert's ``due_at``) to the receipt, on one clock.
    Appointments are on working days only (A3): on another day there is nothing to measure."""
    if not is_working_day(datetime.now(LONDON).date()):
        console.print("alert latency: not measured, today is not a working day (A3)")
        return 0, []
    received: dict[str, float] = {}
    hook = FastAPI()

    @hook.post("/alerts")
    async def alerted(request: Request) -> dict[str, str]:
        arrived = time.time()
        body = orjson.loads(await request.body())
        if body["event"] == "raised":
            due = datetime.fromisoformat(body["due_at"]).timestamp()
            received.setdefault(body["case_id"], (arrived - due) * 1000)
        return {}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hook, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.05)
        receiver = {"role": "referral_worker", "area": "camden", "url": f"http://127.0.0.1:{port}/alerts"}
        put = await client.put(
            f"{system.url('referral')}/v1/alert-receivers",
            headers=manager,
            json={**receiver, "secret": "a" * 32},
        )
        put.raise_for_status()
        rows = (
            await client.get(
                f"{system.url('referral')}/v1/assessments", params={"area": "camden"}, headers=manager
            )
        ).json()
        by_detention = {a["detention_id"]: a["assessment_id"] for a in rows if a["status"] == "proposed"}
        waiting: list[str] = []
        for p in probes:
            case = by_detention.get(p.detention_id)
            if case is None:
                continue
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            body = {"place": "DIP office", "appointment_at": due.isoformat()}
            imposed = await client.post(
                f"{system.url('referral')}/v1/assessments/{case}/impose", json=body, headers=officer
            )
            imposed.raise_for_status()
            waiting.append(case)
            await asyncio.sleep(0.3)
        deadline = time.monotonic() + 30
        while any(c not in received for c in waiting) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        return len(waiting), [received[c] for c in waiting if c in received]
    finally:
        server.should_exit = True
        await serving


async def _drained(progress: Progress, timeout_s: float = 60) -> None:
    """Until no service applied an event for a second: the background load has been taken in."""
    last = await progress.counts()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = await progress.counts()
        if now == last:
            return
        last = now


async def _applied_rate(progress: Progress, seconds: float) -> float:
    before = sum((await progress.counts()).values())
    await asyncio.sleep(seconds)
    return (sum((await progress.counts()).values()) - before) / seconds


async def _probe(client: httpx.AsyncClient, system: System, officer: dict[str, str], pid: str) -> Probe:
    now = datetime.now(UTC)
    body = {
        "person_id": pid,
        "name": "Probe Person",
        "date_of_birth": "1980-01-01",
        "home_area": "camden",
        "suite": "MET-CAMDEN",
        "arrested_at": (now - timedelta(minutes=30)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": now.date().isoformat()}],
    }
    custody = system.url("custody")
    booked = await client.post(f"{custody}/v1/detentions", json=body, headers=officer)
    booked.raise_for_status()
    did = booked.json()["detention_id"]
    for action in ("warning", "sample"):
        (
            await client.post(f"{custody}/v1/detentions/{did}/{action}", json={}, headers=officer)
        ).raise_for_status()
    answer = await client.post(
        f"{custody}/v1/detentions/{did}/results",
        headers=officer,
        json={"drug": "cocaine", "result": "positive"},
    )
    answer.raise_for_status()
    return Probe(time.perf_counter(), did, pid)


def _bearer(role: Role, area: str, worker_id: str | None = None) -> dict[str, str]:
    token = mint_token(SECRET, subject=f"bench-{role}", role=role, area=area, worker_id=worker_id)
    return {"Authorization": f"Bearer {token}"}


# -- 6. footprint --------------------------------------------------------------------------------------------


class Memory:
    def __init__(self, system: System) -> None:
        self.processes = {n: psutil.Process(p.popen.pid) for n, p in system.processes.items()}
        self.idle: dict[str, float] = {}
        self.peak: dict[str, float] = dict.fromkeys(self.processes, 0.0)

    def sample(self) -> dict[str, float]:
        now = {n: p.memory_info().rss / 2**20 for n, p in self.processes.items()}
        self.peak = {n: max(self.peak[n], v) for n, v in now.items()}
        return now

    async def watch(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(1)


# -- the run -------------------------------------------------------------------------------------------------


def pure_python_seconds() -> float:
    """Seconds for 10⁷ additions in pure Python, on a quiet machine: its speed at the time. The same machine
    has taken 0.87 s and 1.72 s on one day, which moves every absolute figure of a run with it."""
    started, total = time.perf_counter(), 0
    for i in range(10**7):
        total += i
    return round(time.perf_counter() - started, 2)


def stage_rates(ladder: Sequence[int], stages: Sequence[Stage], *, refinements: int) -> Iterator[int]:
    """The offered rates, each decided after the stages before it ran: up ``ladder`` until a stage does not
    hold, then halfway between the highest that held and the lowest that did not, ``refinements`` times (the
    ladder doubles at first, so the capacity would otherwise be known only to within a factor of two)."""
    for rate in ladder:
        yield rate
        if not stages[-1].held:
            break
    for _ in range(refinements):
        failing = [s.journeys_per_s for s in stages if not s.held]
        if not failing:
            return
        held, failed = max((s.journeys_per_s for s in stages if s.held), default=0.0), min(failing)
        middle = round((held + failed) / 2)
        if middle in (held, failed):
            return
        yield middle


async def measure(system: System, cold_start_s: float, quick: bool) -> dict[str, Any]:
    assert system.addresses is not None
    bootstrap = system.addresses.kafka_bootstrap
    memory = Memory(system)
    await asyncio.sleep(5)
    memory.idle = memory.sample()
    console.print(f"idle RSS (MB): {memory.idle}")
    pools = {n: await asyncpg.create_pool(system.dsn(n), min_size=1, max_size=2) for n in SERVICE_NAMES}
    result: dict[str, Any] = {"cold_start_s": round(cold_start_s, 1)}
    try:
        for_stages = 6000 if quick else 124_000  # the whole ladder and two refinements near its top
        journeys = generate(for_stages + (1000 if quick else 6000), seed=23, mix=KAFKA_ONLY_MIX)
        background = journeys[for_stages:]  # kept for the latency run's load, whatever the stages take
        gc.freeze()  # the journeys live to the end: keep the collector from walking them again and again
        size = round(statistics.mean(len(v) for j in journeys[:200] for _, v in j.messages))
        console.print("[bold]baseline[/]: raw Kafka round trip")
        result["raw_kafka"] = await raw_kafka(bootstrap, 20_000 if quick else 100_000, size)
        console.print(result["raw_kafka"])
        console.print("[bold]baseline[/]: raw PostgreSQL commits")
        result["raw_postgres"] = await raw_postgres(
            server_dsn(system.addresses.postgres_dsn, "bench_raw"), 5 if quick else 15, 8
        )
        console.print(result["raw_postgres"])
        stages: list[Stage] = []
        used = 0
        ladder = (
            (10, 20, 40, 80) if quick else (20, 40, 80, 160, 240, 280, 320, 360, 400, 450, 500, 560, 630, 700)
        )
        for rate in stage_rates(ladder, stages, refinements=1 if quick else 2):
            count = int(rate * (10 if quick else 20))
            if used + count > for_stages:
                console.print(
                    f"[bold]throughput[/]: no journeys left for {rate} journeys/s; the ladder stops"
                )
                break
            batch = journeys[used : used + count]
            used += count
            console.print(f"[bold]throughput[/]: {rate} journeys/s for {len(batch)} journeys")
            cpu_before, machine_before = cpu_by_process(system), psutil.cpu_times()
            server_before = await server_counters(system.addresses.postgres_dsn)
            stage = await run_stage(system, pools, batch, rate, memory.watch)
            stage.cpu_s = used_since(cpu_before, cpu_by_process(system))
            server_after = await server_counters(system.addresses.postgres_dsn)
            stage.server = checkpoint_figures(server_before, server_after)
            stage.machine_cpu_s = round(busy_seconds(machine_before, psutil.cpu_times()), 1)
            stages.append(stage)
            console.print(stage.as_dict())
        result["stages"] = [s.as_dict() for s in stages]
        held = [s for s in stages if s.held]
        result["sustained_events_per_s"] = round(max((s.applied_per_s for s in held), default=0.0), 1)
        result["reconciliation"] = await reconcile(pools, journeys[:used])
        console.print(result["reconciliation"])
        events_per_journey = sum(s.applied for s in stages) / max(1, sum(s.journeys for s in stages))
        console.print(
            f"[bold]latency[/] at ~200 events/s ({events_per_journey:.1f} applied events per journey)"
        )
        result["latency"] = await latency_run(
            system, pools, background, events_per_journey, 200.0, 40 if quick else 120
        )
        console.print({k: v for k, v in result["latency"].items() if k != "samples_ms"})
        result["memory_mb"] = {
            n: {"idle": round(memory.idle[n], 1), "peak_under_load": round(memory.peak[n], 1)}
            for n in SERVICE_NAMES
        }
    finally:
        for pool in pools.values():
            await pool.close()
    del journeys, background
    gc.unfreeze()
    gc.collect()
    console.print("[bold]replay[/]: a year of a large force's history into the PPO register's read models")
    infra = BenchInfra(bootstrap, system.addresses.postgres_dsn, "")
    figures = await replay_figures(infra, 5000 if quick else 40_000, cpu=lambda: cpu_by_process(system))
    result["replay"] = figures.as_dict()
    console.print(result["replay"])
    return result


def ratios(r: dict[str, Any]) -> dict[str, float]:
    """The run's figures over its own baselines: what the targets are set on (absolute rates move between
    machines; these did not)."""
    kafka = r["raw_kafka"]["events_per_s"]
    return {
        "sustained_over_raw_postgres_commits": round(
            r["sustained_events_per_s"] / r["raw_postgres"]["commits_per_s"], 3
        ),
        "sustained_over_raw_kafka": round(r["sustained_events_per_s"] / kafka, 3),
        "replay_over_raw_kafka": round(r["replay"]["events_per_s"] / kafka, 3),
    }


def compare(r: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """dipflow's best held stage beside the peer's: journeys/s, CPU per journey, journeys per busy core-second
    (``ratio_per_core``: dipflow's ÷ the peer's), p99 and memory."""
    if not peer.get("built"):
        return peer
    held = [s for s in r["stages"] if s["held"]]
    ours = max(held, key=lambda s: s["applied_per_s"])
    theirs_held = [s for s in peer["stages"] if s["held"]]
    if not theirs_held:
        return {**peer, "ratio_per_core": None}
    theirs = max(theirs_held, key=lambda s: s["completed_per_s"])
    ours_per_core = ours["journeys"] / ours["machine_cpu_s"]
    theirs_per_core = theirs["completed"] / theirs["machine_cpu_s"]
    return {
        **peer,
        "dipflow": {
            "journeys_per_s": round(ours["journeys"] / (ours["seconds"] + ours["drain_s"]), 1),
            "cpu_ms_per_journey": round(1000 * ours["machine_cpu_s"] / ours["journeys"], 1),
            "journeys_per_core_s": round(ours_per_core, 1),
            "p99_ms": r["latency"]["positive_to_inbox"]["p99_ms"],
            "peak_rss_mb": round(sum(m["peak_under_load"] for m in r["memory_mb"].values()), 1),
        },
        "temporal": {
            "journeys_per_s": theirs["completed_per_s"],
            "cpu_ms_per_journey": round(1000 * theirs["machine_cpu_s"] / theirs["completed"], 1),
            "journeys_per_core_s": round(theirs_per_core, 1),
            "p99_ms": theirs["result_to_assessment"]["p99_ms"],
            "journey_p99_ms": theirs["journey_latency"]["p99_ms"],
            "peak_rss_mb": round(sum(peer["peak_rss_mb"].values()), 1),
        },
        "ratio_per_core": round(ours_per_core / theirs_per_core, 2),
    }


def main(
    quick: Annotated[bool, typer.Option(help="Smaller stages, for a try-out")] = False,
    peer: Annotated[bool, typer.Option(help="Run the Temporal peer after dipflow (built once)")] = True,
    before: Annotated[
        Path | None, typer.Option(help="An earlier result (.json) to compare with in the summary")
    ] = None,
) -> None:
    speed_before = pure_python_seconds()
    state = ROOT / ".local" / "bench-pipeline" / uuid.uuid4().hex[:8]
    system = System(
        state,
        env={"DIPFLOW_REFERRAL_ATTENDANCE_GRACE_MINUTES": "0"},  # the alert probes
        full_compiler=True,  # the broker as production runs it
    )
    started = time.monotonic()
    system.start()
    try:
        asyncio.run(system.wait_ready())
        cold = time.monotonic() - started
        console.print(f"cold start: {cold:.1f} s")
        result = uvloop.run(measure(system, cold, quick))
    finally:
        system.stop()
        shutil.rmtree(state, ignore_errors=True)
    if peer:
        console.print("[bold]peer[/]: the same journeys through Temporal, on the same machine")
        peer_journeys = generate(1000 if quick else 14_000, seed=23, mix=KAFKA_ONLY_MIX)
        result["peer"] = compare(result, run_peer(peer_journeys, quick))
    result["ratios"] = ratios(result)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "pure_python_s": [speed_before, pure_python_seconds()],
    }
    result["at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    write(result, quick, orjson.loads(before.read_bytes()) if before else None)


def write(result: dict[str, Any], quick: bool, before: dict[str, Any] | None = None) -> None:
    from bench.pipeline_report import markdown, plot

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = datetime.now().strftime("%Y-%m-%d") + ("-quick" if quick else "")
    (RESULTS / f"{stem}.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    plot(result, RESULTS / f"{stem}.png")
    (RESULTS / f"{stem}.md").write_text(markdown(result, f"{stem}.png", before))
    console.print(f"wrote {RESULTS / stem}.json, .md and .png")


if __name__ == "__main__":
    typer.run(main)

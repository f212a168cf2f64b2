"""Sustained HTTP load on the whole system: does it hold 200 requests/s of mixed reads and writes for five
minutes with no errors and no memory growth beyond a bound?

    python -m bench.load --rate 200 --duration 300        (make load)

Starts ``dipflow run`` (Kafka, PostgreSQL and the four services, as ``make run`` does) on a free port range
with its own state folder, adds referral workers for the suites used, then runs the open-loop generator
(``bench.loadgen``) as a second process on loopback. Meanwhile it samples the resident memory of the four
service processes every 5 s. Afterwards it waits for the asynchronous pipeline to drain and reconciles what
the answered writes should have produced against each service's database, then prints the figures and writes
``bench/results/<date>-load.{json,md}``. Exit code 1 on any error, a missed rate or a broken memory bound.
See bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import psutil
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.report import machine_info
from dipflow.auth import Role, mint_token
from dipflow.devstack.offsets import launch_run, run_output, stop_run
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES
from dipflow.devstack.stack import StackAddresses
from dipflow.kafka.connection import kafka_consumer_options
from dipflow.topics import MAIN_TOPICS

ROOT = project_root()
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SAMPLE_EVERY_S = 5.0
BLOCK_S = 30.0  # bench.loadgen's blocks: the report's time series
WORKERS = (("lambeth", "MET-BRIXTON"), ("camden", "MET-CAMDEN"))
WORKERS_PER_SUITE = 3
SERVICE_NAMES = tuple(s.name for s in SERVICES)

console = Console(width=None if sys.stdout.isatty() else 130)


# -- the system --------------------------------------------------------------------------------------------


@dataclass
class Processes:
    services: dict[str, psutil.Process]
    kafka: psutil.Process | None
    postgres: psutil.Process | None

    @classmethod
    def find(cls, run_pid: int, addresses: StackAddresses) -> Processes:
        services: dict[str, psutil.Process] = {}
        for child in psutil.Process(run_pid).children():
            cmdline = " ".join(child.cmdline())
            for spec in SERVICES:
                if f"{spec.package}.main:create_app" in cmdline:
                    services[spec.name] = child
        missing = set(SERVICE_NAMES) - set(services)
        if missing:
            raise RuntimeError(f"service processes not found among the children of dipflow run: {missing}")
        return cls(services, _process(addresses.kafka_pid), _process(addresses.postgres_pid))

    def tree(self) -> list[psutil.Process]:
        found = list(self.services.values())
        for top in (self.kafka, self.postgres):
            if top is not None:
                with contextlib.suppress(psutil.Error):
                    found += [top, *top.children(recursive=True)]
        return found


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _rss_mb(process: psutil.Process | None) -> float | None:
    if process is None:
        return None
    try:
        return process.memory_info().rss / 2**20
    except psutil.Error:
        return None


def _postgres_mb(top: psutil.Process | None) -> float | None:
    """PostgreSQL's memory: the postmaster's RSS plus each backend's unique pages (shared buffers once)."""
    if top is None:
        return None
    try:
        total = top.memory_info().rss
        for child in top.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_full_info().uss
        return total / 2**20
    except psutil.Error:
        return None


def _cpu_s(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds (user + system) used so far, by pid."""
    found = {}
    for p in processes:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            found[p.pid] = t.user + t.system
    return found


def _cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings; a process that started in between counts whole."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


@dataclass
class MemoryLog:
    """RSS (MB) of each service, Kafka and PostgreSQL, every ``SAMPLE_EVERY_S`` from the start of the load."""

    idle: dict[str, float] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)  # {"t": s, name: MB, ..., CPU cores}
    after_drain: dict[str, float] = field(default_factory=dict)
    _cpu: tuple[float, Any, dict[int, float]] | None = None  # when, the machine's and the system's CPU times

    def take(self, procs: Processes, t: float | None) -> dict[str, Any]:
        """RSS now; with ``t``, a sample, with the CPU the machine and the system used since the last one."""
        row: dict[str, Any] = {name: _rss_mb(p) for name, p in procs.services.items()}
        row["kafka"] = _rss_mb(procs.kafka)
        row["postgres"] = _postgres_mb(procs.postgres)
        now, machine, system = time.monotonic(), psutil.cpu_times(), _cpu_s(procs.tree())
        if t is not None:
            row["t"] = round(t, 1)
            if self._cpu is not None:
                elapsed = now - self._cpu[0]
                row["machine_busy_cores"] = _busy_s(self._cpu[1], machine) / elapsed
                row["system_cores"] = _cpu_since(self._cpu[2], system) / elapsed
            self.samples.append(row)
        self._cpu = (now, machine, system)
        return row

    def at(self, name: str, t: float) -> float | None:
        """The first sample at or after ``t`` seconds."""
        return next((s[name] for s in self.samples if s["t"] >= t and s[name] is not None), None)

    def series(self, name: str) -> list[float]:
        """The samples of the measured run (the warm-up's are before 0)."""
        return [s[name] for s in self.samples if s.get(name) is not None and s["t"] >= 0]


# -- the services' own view of their latency ---------------------------------------------------------------

Histograms = dict[tuple[str, str, str], dict[str, Any]]  # (service, method, route) → buckets, sum, count
NOT_TRAFFIC = ("/metrics", "/readyz", "/healthz")
SHED = "shed"  # in a scrape: a (service, SHED, reason) entry counts the requests shed for that reason
GC = "gc"  # in a scrape: a (service, GC, generation) entry is that service's garbage-collection pauses


async def scrape(urls: dict[str, str]) -> Histograms:
    """Each service's ``dipflow_http_request_seconds`` histogram (time in the app, by route template), its
    shed counters and its garbage-collection pauses (``dipflow_gc_pause_seconds``, by generation)."""
    found: Histograms = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name, url in urls.items():
            text = (await client.get(f"{url}/metrics")).text
            for family in text_string_to_metric_families(text):
                if family.name == "dipflow_http_shed":  # the counter's family, without _total
                    for sample in family.samples:
                        if sample.name.endswith("_total"):
                            key = (name, SHED, sample.labels["reason"])
                            found[key] = {"buckets": {}, "sum": 0.0, "count": sample.value}
                    continue
                if family.name not in ("dipflow_http_request_seconds", "dipflow_gc_pause_seconds"):
                    continue
                for sample in family.samples:
                    if "generation" in sample.labels:
                        key = (name, GC, sample.labels["generation"])
                    else:
                        key = (name, sample.labels["method"], sample.labels["route"])
                    entry = found.setdefault(key, {"buckets": {}, "sum": 0.0, "count": 0.0})
                    if sample.name.endswith("_bucket"):
                        entry["buckets"][float(sample.labels["le"])] = sample.value
                    elif sample.name.endswith("_sum"):
                        entry["sum"] = sample.value
                    elif sample.name.endswith("_count"):
                        entry["count"] = sample.value
    return found


def shed_reasons(before: Histograms, after: Histograms) -> dict[str, int]:
    """Requests each service shed between two scrapes, by why (``loop-lag``: its event loop ran late;
    ``no-slot``: every slot it takes was busy for the whole queue wait)."""
    shed: dict[str, int] = {}
    for (service, kind, reason), b in sorted(after.items()):
        if kind == SHED:
            n = b["count"] - before.get((service, kind, reason), {"count": 0.0})["count"]
            if n > 0:
                shed[f"{service} {reason}"] = int(n)
    return shed


def server_side(before: Histograms, after: Histograms) -> list[dict[str, Any]]:
    """Per route, between two scrapes: requests, mean, and the bucket bound under which 50/95/99 % fell."""
    return _histogram_rows(
        before, after, lambda method, route: method not in (SHED, GC) and route not in NOT_TRAFFIC
    )


def gc_pauses(before: Histograms, after: Histograms) -> list[dict[str, Any]]:
    """Per service and generation collected, between two scrapes: pauses, mean, and the bucket bound under which
    50/95/99 % fell (``route`` is the generation)."""
    return _histogram_rows(before, after, lambda method, route: method == GC)


def _histogram_rows(
    before: Histograms, after: Histograms, keep: Callable[[str, str], bool]
) -> list[dict[str, Any]]:
    rows = []
    for (service, method, route), b in sorted(after.items()):
        a = before.get((service, method, route), {"buckets": {}, "sum": 0.0, "count": 0.0})
        n = b["count"] - a["count"]
        if n <= 0 or not keep(method, route):
            continue
        cumulative = sorted((le, b["buckets"][le] - a["buckets"].get(le, 0.0)) for le in b["buckets"])

        def bound(p: float, cumulative: list[tuple[float, float]] = cumulative, n: float = n) -> float | None:
            le = next(le for le, count in cumulative if count >= p * n)
            return None if le == float("inf") else le * 1000

        rows.append(
            {
                "service": service,
                "method": method,
                "route": route,
                "count": int(n),
                "mean_ms": (b["sum"] - a["sum"]) / n * 1000,
                "p50_le_ms": bound(0.5),
                "p95_le_ms": bound(0.95),
                "p99_le_ms": bound(0.99),
            }
        )
    return rows


# -- setup, drain and reconciliation -----------------------------------------------------------------------


def add_workers(urls: dict[str, str], secret: str, tag: str) -> list[dict[str, str]]:
    workers = []
    with httpx.Client(base_url=urls["referral"], timeout=30) as client:
        for area, suite in WORKERS:
            token = mint_token(secret, subject="load-manager", role=Role.referral_manager, area=area)
            for n in range(WORKERS_PER_SUITE):
                worker_id = f"W-{tag}-{area[:3].upper()}{n}"
                body = {
                    "worker_id": worker_id,
                    "name": f"Load worker {n}",
                    "area": area,
                    "suites": [suite],
                    "daily_capacity": 50,
                    "working_weekdays": [0, 1, 2, 3, 4, 5, 6],
                }
                answer = client.post("/v1/workers", json=body, headers={"Authorization": f"Bearer {token}"})
                if answer.status_code != 201:
                    raise RuntimeError(f"adding worker {worker_id}: {answer.status_code} {answer.text[:300]}")
                workers.append({"worker_id": worker_id, "area": area})
    return workers


@dataclass
class Check:
    name: str
    expected: int
    found: int
    slack: int = 0  # writes that timed out may have been applied: up to this many more is no loss

    @property
    def ok(self) -> bool:
        return self.expected <= self.found <= self.expected + self.slack


def _among(table: str, column: str, what: str = "*") -> str:
    return f"SELECT count({what}) FROM {table} WHERE {column} = ANY($1::text[])"


async def reconcile(addresses: StackAddresses, created: dict[str, Any]) -> list[Check]:
    """What every answered write should have produced, against each service's tables (and the outboxes)."""
    booked = created["booked"]
    positives = [p["detention_id"] for p in created["positives"]]
    notified = [p["detention_id"] for p in created["positives"] if p["notified"]]
    ppo, orders, failed = created["ppo_people"], created["orders"], created["failed_to_attend"]
    failures = (
        "SELECT count(DISTINCT split_part(source_ref, ':', 1)) FROM arrest_requests "
        "WHERE source = 'assessment_failure' AND split_part(source_ref, ':', 1) = ANY($1::text[])"
    )
    # Everything is looked up by the ids the answers gave, except warnings and breach cases (by order): a
    # compliance record that timed out may still have been applied.
    slack = {"warnings (first absences)": created["unknown"].get("compliance", 0)}
    slack["breach cases (second absences)"] = slack["warnings (first absences)"]
    wanted: dict[str, list[tuple[str, int, str, list[str]]]] = {
        "custody": [
            ("detentions (book-ins answered 201)", len(booked), _among("detentions", "detention_id"), booked),
            ("copy of the PPO register", len(ppo), _among("ppo_register", "person_id"), ppo),
        ],
        "referral": [
            ("detentions seen", len(booked), _among("detentions", "detention_id"), booked),
            (
                "required assessments (positives at notified suites)",
                len(notified),
                _among("assessments", "detention_id"),
                notified,
            ),
        ],
        "ppo-register": [
            ("register periods (adds answered 201)", len(ppo), _among("register_periods", "person_id"), ppo),
            ("arrests seen", len(booked), _among("arrests", "detention_id"), booked),
            (
                "positive results seen",
                len(positives),
                _among("positive_results", "detention_id", "DISTINCT detention_id"),
                positives,
            ),
        ],
        "breach": [
            ("DRR orders (answered 201)", len(orders), _among("orders", "order_id"), orders),
            ("warnings (first absences)", created["warnings"], _among("warnings", "order_id"), orders),
            (
                "breach cases (second absences)",
                created["breaches"],
                _among("breach_cases", "order_id"),
                orders,
            ),
            ("bookings seen", len(booked), _among("bookings", "detention_id"), booked),
            ("copy of the PPO register", len(ppo), _among("ppo_register", "person_id"), ppo),
            ("arrest requests for failed attendances", len(failed), failures, failed),
        ],
    }
    checks: list[Check] = []
    for service, rows in wanted.items():
        conn = await asyncpg.connect(addresses.service_dsn(service))
        try:
            for name, expected, sql, arg in rows:
                found = int(await conn.fetchval(sql, arg))
                checks.append(Check(f"{service}: {name}", expected, found, slack.get(name, 0)))
            checks.append(
                Check(
                    f"{service}: outbox rows left", 0, int(await conn.fetchval("SELECT count(*) FROM outbox"))
                )
            )
        finally:
            await conn.close()
    return checks


async def dead_lettered(bootstrap: str) -> dict[str, int]:
    """Records on each dead-letter topic (end offsets: exact, and cheap)."""
    consumer = AIOKafkaConsumer(**kafka_consumer_options(bootstrap), group_id=None, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, int] = {}
    try:
        for spec in MAIN_TOPICS:
            name = spec.dead_letter().name
            parts = consumer.partitions_for_topic(name) or set()
            if not parts:
                await consumer.topics()  # refresh the metadata once
                parts = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in parts]
            begins = await consumer.beginning_offsets(tps) if tps else {}
            ends = await consumer.end_offsets(tps) if tps else {}
            found[name] = sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()
    return found


async def drain(
    addresses: StackAddresses, created: dict[str, Any], timeout_s: float
) -> tuple[list[Check], float]:
    started = time.monotonic()
    while True:
        checks = await reconcile(addresses, created)
        if all(c.ok for c in checks) or time.monotonic() - started > timeout_s:
            return checks, time.monotonic() - started
        await asyncio.sleep(2)


def log_offsets(state: Path) -> dict[str, int]:
    """Where each service's log ends now: what start-up wrote (the broker's group coordinator not ready yet,
    say) is not the load's."""
    return {n: (state / "logs" / f"{n}.log").stat().st_size for n in SERVICE_NAMES}


def log_problems(state: Path, offsets: dict[str, int]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Error and warning lines each service logged since ``offsets`` (JSON lines by level; tracebacks apart),
    and the first few error lines."""
    found: dict[str, dict[str, int]] = {}
    examples: list[str] = []
    for name in SERVICE_NAMES:
        counts = {"error": 0, "warning": 0, "traceback": 0}
        with (state / "logs" / f"{name}.log").open("rb") as log:
            log.seek(offsets.get(name, 0))
            for line in log.read().decode(errors="replace").splitlines():
                if line.startswith("Traceback"):
                    counts["traceback"] += 1
                elif '"level": "error"' in line or '"level": "critical"' in line:
                    counts["error"] += 1
                elif '"level": "warning"' in line:
                    counts["warning"] += 1
                    continue
                else:
                    continue
                if len(examples) < 5:
                    examples.append(f"{name}: {line[:400]}")
        found[name] = counts
    return found, examples


# -- the run -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    rate_tolerance: float  # achieved rate within ± this share of the target
    growth_mb: float  # end RSS ≤ RSS after the first minute + this
    max_rss_mb: float  # no sample above this, per service
    settle_s: float  # the "first minute": the growth bound is measured from here


async def _watch(
    generator: asyncio.subprocess.Process,
    procs: Processes,
    memory: MemoryLog,
    duration: float,
    progress: Progress,
    task: Any,
    urls: dict[str, str],
    histograms: dict[str, Histograms],
) -> None:
    """Progress from the generator's lines (one a second from its start); RSS every few seconds from then
    until the generator ends; the services' histograms as the measured run starts and after it."""
    started: float | None = None
    sampler: asyncio.Task[None] | None = None

    async def sample(started: float) -> None:
        while True:
            memory.take(procs, time.monotonic() - started)
            await asyncio.sleep(SAMPLE_EVERY_S)

    previous: tuple[float, int] | None = None
    printed = None
    try:
        assert generator.stdout is not None
        while line := await generator.stdout.readline():
            with contextlib.suppress(ValueError):
                tick = json.loads(line)
                if started is None:
                    started = time.monotonic() - tick["t"]
                    sampler = asyncio.create_task(sample(started))
                last = memory.samples[-1] if memory.samples else {}
                rss = "/".join(f"{last.get(n) or 0:.0f}" for n in SERVICE_NAMES)
                rate = (
                    0.0
                    if previous is None
                    else (tick["sent"] - previous[1]) / max(tick["t"] - previous[0], 0.001)
                )
                previous = (tick["t"], tick["sent"])
                phase = "warm-up · " if tick["t"] < 0 else ""
                if tick["t"] >= 0 and "start" not in histograms:
                    histograms["start"] = await scrape(urls)
                info = (
                    f"{phase}{rate:.0f}/s · in flight {tick['inflight']} · p95 {tick['p95_ms']:.0f} ms · "
                    f"errors {tick['errors']} · RSS MB {rss}"
                )
                progress.update(task, completed=min(max(tick["t"], 0), duration), info=info)
                if not console.is_terminal and tick["t"] // 10 != printed:  # a log file: a line every 10 s
                    printed = tick["t"] // 10
                    console.print(f"t={tick['t']:.0f}s sent {tick['sent']:,} · {info}")
        await generator.wait()
        histograms["end"] = await scrape(urls)
    finally:
        if sampler is not None:
            sampler.cancel()
    if started is not None:
        memory.take(procs, time.monotonic() - started)


@dataclass
class Verdict:
    rate_ok: bool
    errors_ok: bool
    memory_ok: dict[str, bool]
    drained_ok: bool

    @property
    def passed(self) -> bool:
        return self.rate_ok and self.errors_ok and all(self.memory_ok.values()) and self.drained_ok


def memory_table(memory: MemoryLog, bounds: Bounds, duration: float) -> list[dict[str, Any]]:
    rows = []
    for name in (*SERVICE_NAMES, "kafka", "postgres"):
        series = memory.series(name)
        if not series:
            continue
        one_minute = memory.at(name, min(bounds.settle_s, duration))
        end, top = series[-1], max(series)
        row: dict[str, Any] = {
            "process": name,
            "idle_mb": memory.idle.get(name),
            "one_minute_mb": one_minute,
            "end_mb": end,
            "max_mb": top,
            "after_drain_mb": memory.after_drain.get(name),
        }
        if name in SERVICE_NAMES and one_minute is not None:
            row["bound_end_mb"] = one_minute + bounds.growth_mb
            row["ok"] = end <= one_minute + bounds.growth_mb and top <= bounds.max_rss_mb
        rows.append(row)
    return rows


def run(
    *,
    rate: float,
    duration: float,
    warmup: float,
    seed: int,
    bounds: Bounds,
    drain_timeout: float,
    keep: bool,
    results_dir: Path,
    connections: int = 32,
    write: bool = True,
) -> tuple[dict[str, Any], bool]:
    """One load run on a system of its own; ``write`` False leaves the result files to the caller."""
    tag = f"LD{uuid.uuid4().hex[:6].upper()}"
    state = ROOT / ".local" / "load" / tag.lower()
    wall = time.monotonic()
    console.print(f"Starting Kafka, PostgreSQL and the four services (`dipflow run`, state {state}) …")
    command, offset = launch_run(state, cwd=ROOT)
    ok = False
    try:
        addresses = StackAddresses(**json.loads((state / "stack.json").read_text()))
        urls = {spec.name: spec.url(offset) for spec in SERVICES}
        secret = (state / "auth-dev-secret").read_text().strip()
        procs = Processes.find(command.pid, addresses)
        console.print(f"Ready in {time.monotonic() - wall:.0f}s on ports {8001 + offset}-{8004 + offset}.")
        workers = add_workers(urls, secret, tag)
        memory = MemoryLog()
        time.sleep(5)  # idle: nothing but the services' own loops
        memory.idle = {k: v for k, v in memory.take(procs, None).items() if v is not None}
        offsets = log_offsets(state)
        config = {
            "urls": urls,
            "secret": secret,
            "tag": tag,
            "workers": workers,
            "rate": rate,
            "duration_s": duration,
            "warmup_s": warmup,
            "seed": seed,
            "connections": connections,
        }
        config_path, result_path = state / "loadgen-config.json", state / "loadgen-result.json"
        config_path.write_text(json.dumps(config))
        cpu_before, machine_before, window_start = _cpu_s(procs.tree()), psutil.cpu_times(), time.monotonic()

        histograms: dict[str, Histograms] = {}

        async def load() -> tuple[float, int]:
            generator = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.loadgen",
                str(config_path),
                str(result_path),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            gen_proc, gen_cpu = psutil.Process(generator.pid), 0.0
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=console,
            ) as progress:
                task = progress.add_task(f"{rate:.0f} req/s for {duration:.0f}s", total=duration, info="")
                watch = asyncio.create_task(
                    _watch(generator, procs, memory, duration, progress, task, urls, histograms)
                )
                while not watch.done():
                    gen_cpu = sum(_cpu_s([gen_proc]).values()) or gen_cpu
                    await asyncio.sleep(1)
                await watch
            return gen_cpu, generator.returncode or 0

        me, my_cpu = psutil.Process(), sum(_cpu_s([psutil.Process()]).values())
        gen_cpu_s, gen_rc = asyncio.run(load())
        cpu_after, machine_after = _cpu_s(procs.tree()), psutil.cpu_times()
        window = time.monotonic() - window_start  # warm-up, load and the last answers
        if gen_rc or not result_path.exists():
            raise RuntimeError(f"the load generator failed (exit {gen_rc})")
        cpu = cpu_shares(
            procs,
            cpu_before,
            cpu_after,
            _busy_s(machine_before, machine_after),
            window,
            harness_s=gen_cpu_s + sum(_cpu_s([me]).values()) - my_cpu,
        )
        gen = json.loads(result_path.read_text())
        console.print(f"Load done; waiting up to {drain_timeout:.0f}s for the pipeline to drain …")
        checks, drain_s = asyncio.run(drain(addresses, gen["created"], drain_timeout))
        dlq = asyncio.run(dead_lettered(addresses.kafka_bootstrap))
        memory.after_drain = {k: v for k, v in memory.take(procs, None).items() if v is not None}
        logs, log_lines = log_problems(state, offsets)
        measured = Measured(
            gen=gen,
            memory=memory,
            bounds=bounds,
            checks=checks,
            drain_s=drain_s,
            dlq=dlq,
            logs=logs,
            cpu=cpu,
            server=server_side(histograms.get("start", {}), histograms.get("end", {})),
            shed_reasons=shed_reasons(histograms.get("start", {}), histograms.get("end", {})),
            gc=gc_pauses(histograms.get("start", {}), histograms.get("end", {})),
            tag=tag,
            duration=duration,
            rate=rate,
            postgres_version=asyncio.run(_postgres_version(addresses)),
        )
        result = build_result(measured)
        result["log_examples"] = log_lines
        ok = result["verdict"]["passed"]
        print_result(result)
        if write:
            json_path, md_path = write_results(result, results_dir)
            console.print(f"wrote {json_path} and {md_path} (whole run {time.monotonic() - wall:.0f}s)")
        return result, ok
    finally:
        rc = stop_run(command)
        if rc != 0:
            console.print(f"[yellow]`dipflow run` exited {rc}; see {run_output(state)}[/]")
        if keep:
            console.print(f"State, logs and data kept in {state}")
        elif ok:
            shutil.rmtree(state, ignore_errors=True)
        else:  # what explains a failure: the logs and the generator's result, not the servers' data
            for data in ("kafka", "postgres"):
                shutil.rmtree(state / data, ignore_errors=True)
            console.print(f"Logs and the generator's result kept in {state}")


def cpu_shares(
    procs: Processes,
    before: dict[int, float],
    after: dict[int, float],
    busy_s: float,
    window: float,
    harness_s: float,
) -> dict[str, Any]:
    """Cores used on average over the window: by each service, Kafka, PostgreSQL, the bench, everyone else."""

    def cores(pids: set[int]) -> float:
        return (
            _cpu_since({p: before[p] for p in pids if p in before}, {p: after[p] for p in pids if p in after})
            / window
        )

    services = {name: cores({p.pid}) for name, p in procs.services.items()}
    kafka = cores({procs.kafka.pid}) if procs.kafka else 0.0
    postgres = cores(
        set(after) - {p.pid for p in procs.services.values()} - ({procs.kafka.pid} if procs.kafka else set())
    )
    under_test = sum(services.values()) + kafka + postgres
    return {
        "window_s": round(window, 1),
        "machine_busy_cores": busy_s / window,
        "system_under_test_cores": under_test,
        "per_service_cores": services,
        "kafka_cores": kafka,
        "postgres_cores": postgres,
        "bench_harness_cores": harness_s / window,
        "other_processes_cores": max(0.0, (busy_s - harness_s) / window - under_test),
    }


def _busy_s(before: Any, after: Any) -> float:
    """CPU seconds the machine was busy (guest time is already in user time, so it is left out)."""
    fields = [f for f in before._fields if f not in ("idle", "iowait", "guest", "guest_nice")]
    return sum(getattr(after, f) - getattr(before, f) for f in fields)


async def _postgres_version(addresses: StackAddresses) -> str:
    conn = await asyncpg.connect(addresses.service_dsn("custody"))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _kafka_version() -> str:
    jars = sorted((ROOT / ".local" / "kafka" / "libs").glob("kafka_2.13-*.jar"))
    return jars[0].stem.removeprefix("kafka_2.13-") if jars else "unknown"


# -- results -----------------------------------------------------------------------------------------------


@dataclass
class Measured:
    gen: dict[str, Any]  # the generator's result
    memory: MemoryLog
    bounds: Bounds
    checks: list[Check]
    drain_s: float
    dlq: dict[str, int]
    logs: dict[str, dict[str, int]]
    cpu: dict[str, Any]
    server: list[dict[str, Any]]
    shed_reasons: dict[str, int]
    gc: list[dict[str, Any]]
    tag: str
    duration: float
    rate: float
    postgres_version: str


def build_result(m: Measured) -> dict[str, Any]:
    gen, memory, bounds, checks, dlq, rate, duration = (
        m.gen,
        m.memory,
        m.bounds,
        m.checks,
        m.dlq,
        m.rate,
        m.duration,
    )
    sent_rate, answered_rate = gen["sent_per_s"], gen["answered_per_s"]
    low, high = rate * (1 - bounds.rate_tolerance), rate * (1 + bounds.rate_tolerance)
    rate_ok = low <= sent_rate <= high and low <= answered_rate <= high
    mem_rows = memory_table(memory, bounds, duration)
    memory_ok = {r["process"]: bool(r.get("ok")) for r in mem_rows if r["process"] in SERVICE_NAMES}
    drained_ok = all(c.ok for c in checks) and not any(dlq.values())
    verdict = Verdict(rate_ok, gen["errors"] == 0, memory_ok, drained_ok)
    windows = [w for w in gen["windows"] if w["sent"]]
    started = datetime.fromisoformat(gen["started_at"]).astimezone()
    return {
        "benchmark": "load",
        "date": started.date().isoformat(),
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(kafka=_kafka_version(), postgres=m.postgres_version),
        "config": {
            "rate": rate,
            "duration_s": duration,
            "tag": m.tag,
            "rss_sample_every_s": SAMPLE_EVERY_S,
            "workers": len(WORKERS) * WORKERS_PER_SUITE,
        },
        "bounds": {
            "rate": f"{rate:.0f} ± {bounds.rate_tolerance:.0%} (sent and answered)",
            "rate_low": low,
            "rate_high": high,
            "memory": f"per service: end RSS ≤ RSS at {min(bounds.settle_s, duration):.0f}s + "
            f"{bounds.growth_mb:.0f} MB, "
            f"and no sample above {bounds.max_rss_mb:.0f} MB",
            "growth_mb": bounds.growth_mb,
            "max_rss_mb": bounds.max_rss_mb,
            "settle_s": bounds.settle_s,
            "errors": "none: every answer is the expected 2xx (any 5xx, unexpected 4xx, timeout or "
            "transport error counts)",
        },
        "requests": {
            k: gen[k]
            for k in (
                "sent",
                "answered",
                "answered_within_run",
                "sent_per_s",
                "answered_per_s",
                "sending_s",
                "max_start_lag_ms",
                "generator_loop_lag_ms",
                "writes",
                "reads",
                "errors",
                "statuses",
            )
        },
        "warmup": gen["warmup"],
        "rate_windows_5s": {
            "sent_min": min(w["sent_per_s"] for w in windows),
            "sent_max": max(w["sent_per_s"] for w in windows),
            "answered_min": min(w["answered_per_s"] for w in windows[1:-1] or windows),
            "answered_max": max(w["answered_per_s"] for w in windows[1:-1] or windows),
        },
        "latency_ms": {
            "overall": gen["overall_ms"],
            "accepted": gen["accepted_ms"],
            "groups": gen["groups_ms"],
        },
        "shed": {"count": gen["shed"], "exchange_ms": gen["shed_exchange_ms"], "by_reason": m.shed_reasons},
        "endpoints": gen["ops"],
        "windows": gen["windows"],
        "time_series": time_series(gen["blocks"], memory.samples),
        "error_samples": gen["error_samples"],
        "memory_mb": {"table": mem_rows, "samples": memory.samples},
        "server_side_ms": m.server,
        "gc_pauses_ms": m.gc,
        "cpu": m.cpu,
        "drain": {
            "seconds": round(m.drain_s, 1),
            "checks": [c.__dict__ | {"ok": c.ok} for c in checks],
            "dead_lettered": dlq,
        },
        "created": {k: (len(v) if isinstance(v, list) else v) for k, v in gen["created"].items()},
        "service_logs": m.logs,
        "verdict": {
            "passed": verdict.passed,
            "rate_ok": verdict.rate_ok,
            "errors_ok": verdict.errors_ok,
            "memory_ok": verdict.memory_ok,
            "drained_ok": verdict.drained_ok,
        },
    }


def time_series(blocks: list[dict[str, Any]], samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each 30 s of the run: the generator's figures, the CPU the machine and the system used (mean of the
    samples in it) and each service's RSS at its last sample."""
    rows = []
    for block in blocks:
        inside = [x for x in samples if block["from_s"] <= x["t"] < block["from_s"] + BLOCK_S]
        row = dict(block)
        for key in ("machine_busy_cores", "system_cores"):
            values = [x[key] for x in inside if key in x]
            row[key] = sum(values) / len(values) if values else None
        row["rss_mb"] = {name: inside[-1][name] for name in SERVICE_NAMES} if inside else {}
        rows.append(row)
    return rows


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _expected(check: dict[str, Any]) -> str:
    return f"{check['expected']:,}" + (f" (+ up to {check['slack']})" if check["slack"] else "")


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _latency_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for name, spread in [
        *result["latency_ms"]["groups"].items(),
        ("all requests", result["latency_ms"]["overall"]),
    ]:
        rows.append(
            (
                name,
                f"{spread['count']:,}",
                _ms(spread["p50"]),
                _ms(spread["p95"]),
                _ms(spread["p99"]),
                _ms(spread["max"]),
            )
        )
    return rows


def _endpoint_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for op, e in sorted(result["endpoints"].items(), key=lambda kv: (kv[1]["group"], kv[0])):
        spread = e["latency_ms"]
        statuses = ", ".join(f"{k} x{v:,}" for k, v in sorted(e["statuses"].items()))
        rows.append(
            (
                op,
                e["service"],
                "write" if e["write"] else "read",
                f"{e['count']:,}",
                str(e["errors"]),
                statuses,
                _ms(spread["p50"]),
                _ms(spread["p95"]),
                _ms(spread["p99"]),
                _ms(spread["max"]),
            )
        )
    return rows


def _server_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    def le(value: float | None) -> str:
        return "> 5,000" if value is None else f"≤ {value:,.0f}"

    return [
        (
            f"{r['service']} {r['method']} {r['route']}",
            f"{r['count']:,}",
            _ms(r["mean_ms"]),
            le(r["p50_le_ms"]),
            le(r["p95_le_ms"]),
            le(r["p99_le_ms"]),
        )
        for r in result["server_side_ms"]
    ]


def _gc_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            f"{r['service']} {r['route']}",
            f"{r['count']:,}",
            f"{r['mean_ms']:.2f}",
            f"{r['mean_ms'] * r['count']:,.0f}",
            "> 250" if r["p99_le_ms"] is None else f"≤ {r['p99_le_ms']:g}",
        )
        for r in result.get("gc_pauses_ms", [])
    ]


def _series_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    def cores(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    return [
        (
            f"{r['from_s']:.0f}-{r['to_s']:.0f}",
            f"{r['answered_per_s']:.1f}",
            str(r["errors"]),
            _ms(r["p50_ms"]),
            _ms(r["p95_ms"]),
            _ms(r["p99_ms"]),
            cores(r["machine_busy_cores"]),
            cores(r["system_cores"]),
            "/".join(_mb(r["rss_mb"].get(n)) for n in SERVICE_NAMES),
        )
        for r in result["time_series"]
    ]


def _memory_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    rows = []
    for r in result["memory_mb"]["table"]:
        verdict = "" if "ok" not in r else ("ok" if r["ok"] else "FAIL")
        rows.append(
            (
                r["process"],
                _mb(r["idle_mb"]),
                _mb(r["one_minute_mb"]),
                _mb(r["end_mb"]),
                _mb(r["max_mb"]),
                _mb(r.get("bound_end_mb")),
                _mb(r["after_drain_mb"]),
                verdict,
            )
        )
    return rows


LATENCY_HEAD = ("group", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms")
ENDPOINT_HEAD = ("endpoint", "service", "kind", "requests", "errors", "statuses", "p50", "p95", "p99", "max")
SERIES_HEAD = (
    "seconds",
    "answered/s",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "machine busy (cores)",
    "system (cores)",
    "RSS MB c/r/p/b",
)
SERVER_HEAD = ("route", "requests", "mean ms", "p50 ms", "p95 ms", "p99 ms")
GC_HEAD = ("service, generation", "pauses", "mean ms", "total ms", "p99 ms")
MEMORY_HEAD = ("process", "idle", "at 1 min", "end of load", "max", "bound (end)", "after drain", "")


SERIES_NOTE = (
    "Requests due in each 30 s: answered a second, errors, latency; the CPU the whole machine and the system "
    "under test (services, Kafka, PostgreSQL) used; the RSS of custody/referral/ppo-register/breach at the "
    "end of it. Machine minus system is the generator, this bench and whatever else ran on the machine."
)
SERVER_NOTE = (
    "From each service's `dipflow_http_request_seconds` histogram (request in the app to answer, without the "
    "wait for the event loop or a connection), over the measured run; percentiles are the histogram's bucket "
    "bounds. Far below the latency above means the requests waited outside the handlers: for CPU, in a "
    "service's event loop or in the generator."
)


def _ok(good: bool) -> str:
    return "ok" if good else "FAIL"


def _summary_lines(result: dict[str, Any]) -> list[str]:
    q, v, cpu, b = result["requests"], result["verdict"], result["cpu"], result["bounds"]
    w = result["rate_windows_5s"]
    return [
        f"Rate: {q['sent']:,} requests sent in {q['sending_s']:.1f}s = {q['sent_per_s']:.2f}/s; answered "
        f"within the run {q['answered_per_s']:.2f}/s (bound {b['rate']}: {_ok(v['rate_ok'])}). "
        f"5-s windows: sent {w['sent_min']:.1f}-{w['sent_max']:.1f}/s, answered {w['answered_min']:.1f}-"
        f"{w['answered_max']:.1f}/s; the generator started a request at most {q['max_start_lag_ms']:.1f} ms "
        "late"
        + (
            f"; its own event loop woke late by p50 {lag['p50']:.0f} ms, p99 {lag['p99']:.0f} ms, max "
            f"{lag['max']:.0f} ms (that much of any latency here is the generator's)."
            if (lag := q.get("generator_loop_lag_ms"))
            else "."
        ),
        f"Warm-up before: {result['warmup']['seconds']:.0f}s at {result['warmup']['rate']:.0f}/s, "
        f"{result['warmup']['sent']:,} requests, {result['warmup']['errors']} errors (counted below).",
        f"Mix: {q['writes']:,} writes ({q['writes'] / max(q['sent'], 1):.0%}), {q['reads']:,} reads.",
        f"Errors: {q['errors']} ({'ok' if v['errors_ok'] else 'FAIL'}); statuses "
        + ", ".join(f"{k} x{n:,}" for k, n in sorted(q["statuses"].items()))
        + ".",
        f"Memory bound: {b['memory']}: {'ok' if all(v['memory_ok'].values()) else 'FAIL'}.",
        f"Drain and reconciliation: {'ok' if v['drained_ok'] else 'FAIL'} after "
        f"{result['drain']['seconds']:.0f}s; "
        f"dead-lettered: {sum(result['drain']['dead_lettered'].values())}.",
        f"CPU over the {cpu['window_s']:.0f}s of load (cores of {result['machine']['cpu_count']}): machine "
        f"busy {cpu['machine_busy_cores']:.2f}; the system under test {cpu['system_under_test_cores']:.2f} ("
        + ", ".join(f"{n} {c:.2f}" for n, c in cpu["per_service_cores"].items())
        + f", Kafka {cpu['kafka_cores']:.2f}, PostgreSQL {cpu['postgres_cores']:.2f}); the generator and "
        f"this bench {cpu['bench_harness_cores']:.2f}; other processes on the machine "
        f"{cpu['other_processes_cores']:.2f}.",
    ]


def print_result(result: dict[str, Any]) -> None:
    for title, head, rows in (
        ("Latency by group (from when each request was due)", LATENCY_HEAD, _latency_rows(result)),
        ("Endpoints", ENDPOINT_HEAD, _endpoint_rows(result)),
        ("Every 30 s", SERIES_HEAD, _series_rows(result)),
        ("Time in the services (their own histograms)", SERVER_HEAD, _server_rows(result)),
        ("Garbage-collection pauses in the services (whole process waits)", GC_HEAD, _gc_rows(result)),
        ("Resident memory (MB)", MEMORY_HEAD, _memory_rows(result)),
    ):
        table = Table(title=title)
        for i, column in enumerate(head):
            table.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    checks = Table(title="Drain and reconciliation")
    for column in ("check", "expected", "found", ""):
        checks.add_column(column, justify="left" if column == "check" else "right")
    for c in result["drain"]["checks"]:
        checks.add_row(c["name"], _expected(c), f"{c['found']:,}", "ok" if c["ok"] else "[red]FAIL[/]")
    console.print(checks)
    for line in _summary_lines(result):
        console.print(line)
    for e in result["error_samples"][:5]:
        console.print(
            f"[red]error[/] {e['op']} {e['method']} {e['url']} → {e['status']} at {e['at_s']}s: {e['body']}"
        )
    console.print(_logs_line(result))
    for line in result["log_examples"]:
        console.print(f"[yellow]log[/] {line}")
    passed = result["verdict"]["passed"]
    console.print("[bold green]LOAD HELD[/]" if passed else "[bold red]LOAD NOT HELD[/]")


def _logs_line(result: dict[str, Any]) -> str:
    counts = "; ".join(
        f"{n} {c['error']} errors, {c['warning']} warnings, {c['traceback']} tracebacks"
        for n, c in result["service_logs"].items()
    )
    return f"Service logs during the load: {counts}."


def _md_table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def to_markdown(result: dict[str, Any]) -> str:
    mc, cfg = result["machine"], result["config"]
    lines = [
        f"# Sustained HTTP load — {result['date']}",
        "",
        f"Machine: {mc['cpu_count']} CPUs ({mc['cpu_model']}), {mc['memory_gb']} GB, Python {mc['python']}, "
        f"Kafka {mc['kafka']} (single KRaft node), PostgreSQL {mc['postgres']}. The whole system as "
        "`make run` starts it, the generator a second process on loopback.",
        "",
        f"**{'HELD' if result['verdict']['passed'] else 'NOT HELD'}** — {cfg['rate']:.0f} requests/s for "
        f"{cfg['duration_s']:.0f}s, open loop, about 40% writes and 60% reads over the four services.",
        "",
        *(f"- {line}" for line in _summary_lines(result)),
        "",
        "## Latency (ms, from when each request was due)",
        "",
        *_md_table(LATENCY_HEAD, _latency_rows(result)),
        "",
        "## Endpoints",
        "",
        *_md_table(ENDPOINT_HEAD, _endpoint_rows(result)),
        "",
        "## Every 30 seconds",
        "",
        SERIES_NOTE,
        "",
        *_md_table(SERIES_HEAD, _series_rows(result)),
        "",
        "## Time in the services",
        "",
        SERVER_NOTE,
        "",
        *_md_table(SERVER_HEAD, _server_rows(result)),
        "",
        "## Garbage-collection pauses (each service's `dipflow_gc_pause_seconds`; the whole process waits)",
        "",
        *_md_table(GC_HEAD, _gc_rows(result)),
        "",
        f"## Resident memory (MB, sampled every {cfg['rss_sample_every_s']:.0f}s)",
        "",
        *_md_table(MEMORY_HEAD, _memory_rows(result)),
        "",
        "Kafka is the broker JVM's RSS; PostgreSQL is the postmaster's RSS plus each backend's unique pages. "
        "Only the four services are held to the bound.",
        "",
        "## Drain and reconciliation",
        "",
        *_md_table(
            ("check", "expected", "found", ""),
            [
                (c["name"], _expected(c), f"{c['found']:,}", "ok" if c["ok"] else "FAIL")
                for c in result["drain"]["checks"]
            ],
        ),
        "",
    ]
    lines += [_logs_line(result), ""]
    if result["log_examples"]:
        lines += [*(f"    {line}" for line in result["log_examples"]), ""]
    if result["error_samples"]:
        lines += ["## First errors", ""]
        lines += [
            f"- `{e['op']}` {e['method']} {e['url']} → {e['status']} at {e['at_s']}s: {e['body'][:300]}"
            for e in result["error_samples"][:10]
        ]
        lines.append("")
    lines += ["See bench/README.md (`make load`).", ""]
    return "\n".join(lines)


def write_results(result: dict[str, Any], results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{result['date']}-load"
    json_path, md_path = results_dir / f"{stem}.json", results_dir / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md_path.write_text(to_markdown(result))
    return json_path, md_path


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main(
    rate: Annotated[float, typer.Option(min=1, help="Requests a second (open loop).")] = 200.0,
    duration: Annotated[float, typer.Option(min=10, help="Seconds of load.")] = 300.0,
    warmup: Annotated[
        float, typer.Option(min=0, help="Seconds at half the rate before the measured load.")
    ] = 10.0,
    seed: Annotated[int, typer.Option(help="The same seed gives the same mix.")] = 2008,
    rate_tolerance: Annotated[float, typer.Option(help="Achieved rate within ± this share.")] = 0.02,
    growth_mb: Annotated[
        float, typer.Option(help="Allowed RSS growth per service after the first minute.")
    ] = 25.0,
    max_rss_mb: Annotated[float, typer.Option(help="No service above this RSS at any sample.")] = 150.0,
    drain_timeout: Annotated[float, typer.Option(help="Seconds to wait for the pipeline to drain.")] = 180.0,
    keep: Annotated[bool, typer.Option(help="Keep the state folder with the servers' data.")] = False,
    results_dir: Annotated[Path, typer.Option(help="Where the JSON and Markdown results go.")] = RESULTS_DIR,
    connections: Annotated[int, typer.Option(help="Generator connections per service.")] = 32,
) -> None:
    bounds = Bounds(rate_tolerance, growth_mb, max_rss_mb, settle_s=60.0)
    try:
        _, ok = run(
            rate=rate,
            duration=duration,
            warmup=warmup,
            seed=seed,
            bounds=bounds,
            drain_timeout=drain_timeout,
            keep=keep,
            results_dir=results_dir,
            connections=connections,
        )
    except RuntimeError as exc:
        console.print(f"[bold red]LOAD FAILED[/]: {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()

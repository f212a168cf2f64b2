"""The peer in ``make bench``: the same generated journeys through Temporal, on the same machine, in the same run.

The Temporal CLI (its development server: Temporal Server with SQLite, persisted to a file) is built once from
the Go module proxy into ``.local/temporal/`` (``go install``, several minutes, never in ``make test``). A
Python worker (``bench.temporal_worker``, the temporalio SDK) runs the journeys' workflows and writes their
effects to a PostgreSQL server of the peer's own, one idempotent statement per effect. The generator starts
one workflow per journey at rising rates, as dipflow's stages offer them; a stage holds when every workflow
completes within a quarter of the stage's length after the last was started. Measured as for dipflow: journeys/s
held, CPU seconds by process and for the whole machine, resident memory, and the time from the result recorded
to the assessment written (the span dipflow's positive → inbox latency covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from rich.console import Console
from temporalio.client import Client, WorkflowHandle

from bench.cpu import busy_seconds, own_cpu, postgres_cpu, tree_cpu
from bench.drill import Journey
from bench.temporal_journeys import TASK_QUEUE, CustodyJourney, JourneyInput, JourneyTimes
from dipflow.devstack import PostgresServer, free_port
from dipflow.devstack.paths import project_root

console = Console()
ROOT = project_root()
CLI_MODULE = "github.com/temporalio/cli/cmd/temporal"
CLI_VERSION = "v1.5.1"
HOME = ROOT / ".local" / "temporal"
BINARY = HOME / "bin" / "temporal"
GO = ("go", "/usr/local/go/bin/go")


def build() -> tuple[Path | None, str]:
    """The Temporal CLI binary, built once; (None, what was refused) when it cannot be built."""
    if BINARY.exists():
        return BINARY, f"{CLI_MODULE}@{CLI_VERSION}, built before"
    go = next((g for g in (shutil.which(GO[0]), GO[1]) if g and Path(g).exists()), None)
    if go is None:
        return None, "no Go toolchain on this machine (go install needs one)"
    console.print(f"building {CLI_MODULE}@{CLI_VERSION} (once, several minutes)…")
    env = {
        **os.environ,
        "GOPATH": str(HOME / "gopath"),
        "GOBIN": str(HOME / "bin"),
        "GOFLAGS": "-modcacherw",
    }
    started = time.monotonic()
    done = subprocess.run(
        [go, "install", f"{CLI_MODULE}@{CLI_VERSION}"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not BINARY.exists():
        return None, f"go install {CLI_MODULE}@{CLI_VERSION} failed: {done.stderr.strip()[-1500:]}"
    return BINARY, f"{CLI_MODULE}@{CLI_VERSION}, built in {time.monotonic() - started:.0f} s"


def as_input(j: Journey) -> JourneyInput:
    return JourneyInput(
        j.kind, j.person_id, j.detention_id, j.order_id, lapse_on_release=j.kind == "positive"
    )


@dataclass
class PeerStage:
    journeys_per_s: float
    journeys: int
    seconds: float = 0.0
    drain_s: float = 0.0
    completed: int = 0
    failed: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)
    machine_cpu_s: float = 0.0
    journey_ms: list[float] = field(default_factory=list)
    result_to_assessment_ms: list[float] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.failed == 0 and self.completed == self.journeys and self.drain_s <= self.seconds / 4

    @property
    def completed_per_s(self) -> float:
        return self.completed / (self.seconds + self.drain_s)

    def as_dict(self) -> dict[str, Any]:
        from bench.pipeline import spread

        return {
            "journeys_per_s": self.journeys_per_s,
            "journeys": self.journeys,
            "seconds": round(self.seconds, 1),
            "drain_s": round(self.drain_s, 1),
            "completed": self.completed,
            "failed": self.failed,
            "completed_per_s": round(self.completed_per_s, 1),
            "held": self.held,
            "cpu_s": self.cpu_s,
            "machine_cpu_s": self.machine_cpu_s,
            "journey_latency": spread(self.journey_ms),
            "result_to_assessment": spread(self.result_to_assessment_ms),
        }


class Peer:
    """The Temporal server, its PostgreSQL and the worker, as processes whose CPU and memory are measured."""

    def __init__(self, binary: Path, state: Path) -> None:
        self.binary, self.state = binary, state
        self.port = free_port()
        self.postgres = PostgresServer(state / "postgres", port=free_port(), durable=True)
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.peak_mb: dict[str, float] = {"temporal": 0.0, "worker": 0.0}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Peer]:
        self.state.mkdir(parents=True, exist_ok=True)
        logs = self.state / "logs"
        logs.mkdir(exist_ok=True)
        self.postgres.start()
        try:
            self.server = subprocess.Popen(
                [
                    str(self.binary),
                    "server",
                    "start-dev",
                    "--headless",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--db-filename",
                    str(self.state / "temporal.db"),
                    "--log-level",
                    "error",
                ],
                stdout=(logs / "temporal.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            _wait_for_port(self.port, 120)
            self.worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.temporal_worker",
                    "--address",
                    self.address,
                    "--dsn",
                    self.postgres.dsn(),
                ],
                cwd=ROOT,
                stdout=(logs / "worker.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            yield self
        finally:
            for proc in (self.worker, self.server):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            self.postgres.stop()

    def processes(self) -> dict[str, psutil.Process]:
        assert self.server is not None and self.worker is not None
        return {"temporal": psutil.Process(self.server.pid), "worker": psutil.Process(self.worker.pid)}

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by the server, the worker, PostgreSQL and this process."""
        totals = {name: tree_cpu(proc) for name, proc in self.processes().items()}
        return {**totals, "postgres": postgres_cpu(), "generator": own_cpu()}

    async def watch_memory(self) -> None:
        while True:
            for name, proc in self.processes().items():
                with contextlib.suppress(psutil.Error):
                    rss = proc.memory_info().rss + sum(
                        c.memory_info().rss for c in proc.children(recursive=True)
                    )
                    self.peak_mb[name] = max(self.peak_mb[name], rss / 2**20)
            await asyncio.sleep(0.5)


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the Temporal server did not open port {port} within {timeout_s:.0f} s")


async def _connect(address: str, timeout_s: float = 60.0) -> Client:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await Client.connect(address)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def run_peer_stage(client: Client, peer: Peer, journeys: list[Journey], rate: float) -> PeerStage:
    stage = PeerStage(rate, len(journeys))
    run = uuid.uuid4().hex[:6]
    finished: list[float] = []

    async def one(j: Journey, started: float) -> None:
        try:
            handle: WorkflowHandle[Any, JourneyTimes] = await client.start_workflow(
                CustodyJourney.run, as_input(j), id=f"{run}-{j.person_id}", task_queue=TASK_QUEUE
            )
            times: JourneyTimes = await handle.result()
        except Exception:
            stage.failed += 1
            return
        ended = time.monotonic()
        finished.append(ended)
        stage.completed += 1
        stage.journey_ms.append((ended - started) * 1000)
        if j.kind == "positive":
            stage.result_to_assessment_ms.append((times.assessment_at - times.result_at) * 1000)

    cpu_before, machine_before = peer.cpu(), psutil.cpu_times()
    waits: list[asyncio.Task[None]] = []
    began = time.monotonic()
    for i, j in enumerate(journeys):
        ahead = i / rate - (time.monotonic() - began)
        if ahead > 0:
            await asyncio.sleep(ahead)
        waits.append(asyncio.create_task(one(j, time.monotonic())))
    stage.seconds = time.monotonic() - began
    await asyncio.wait(waits, timeout=180)
    stage.drain_s = max(0.0, (max(finished) if finished else time.monotonic()) - began - stage.seconds)
    after = peer.cpu()
    stage.cpu_s = {k: round(after[k] - cpu_before.get(k, 0.0), 1) for k in after}
    stage.machine_cpu_s = round(busy_seconds(machine_before, psutil.cpu_times()), 1)
    return stage


async def reconcile_peer(dsn: str, journeys: list[Journey]) -> dict[str, Any]:
    custody = [j.detention_id for j in journeys if j.kind in ("positive", "negative")]
    positives = [j.detention_id for j in journeys if j.kind == "positive"]
    drr = [j.order_id for j in journeys if j.kind == "drr"]
    connection = await asyncpg.connect(dsn)
    try:
        checks = {}
        for name, table, key, ids in (
            ("detentions", "detentions", "detention_id", custody),
            ("arrests", "arrests", "detention_id", custody),
            ("bookings", "bookings", "detention_id", custody),
            ("assessments", "assessments", "detention_id", positives),
            ("orders", "orders", "order_id", drr),
            ("breach cases", "breach_cases", "order_id", drr),
        ):
            found = await connection.fetchval(f"SELECT count(*) FROM {table} WHERE {key} = ANY($1)", ids)
            checks[name] = {"expected": len(ids), "found": int(found)}
    finally:
        await connection.close()
    return {"checks": checks, "exact": all(c["expected"] == c["found"] for c in checks.values())}


async def measure_peer(
    peer: Peer, journeys: list[Journey], rates: tuple[float, ...], stage_s: float
) -> dict[str, Any]:
    client = await _connect(peer.address)
    deadline = time.monotonic() + 60
    while "worker ready" not in (peer.state / "logs" / "worker.log").read_text():
        if time.monotonic() > deadline:
            raise RuntimeError("the Temporal worker did not start: see " + str(peer.state / "logs"))
        await asyncio.sleep(0.2)
    watcher = asyncio.create_task(peer.watch_memory())
    stages: list[PeerStage] = []
    used = 0
    try:
        warm = await run_peer_stage(client, peer, journeys[:50], 25)  # workers and caches warm, not measured
        used = 50
        console.print(f"peer warm-up: {warm.completed} journeys")
        for rate in rates:
            batch = journeys[used : used + int(rate * stage_s)]
            used += len(batch)
            console.print(f"[bold]peer[/]: {rate} journeys/s for {len(batch)} journeys")
            stage = await run_peer_stage(client, peer, batch, rate)
            stages.append(stage)
            console.print({k: v for k, v in stage.as_dict().items()})
            if not stage.held and len([s for s in stages if not s.held]) >= 2:
                break
    finally:
        watcher.cancel()
    return {
        "stages": [s.as_dict() for s in stages],
        "reconciliation": await reconcile_peer(peer.postgres.dsn(), journeys[:used]),
        "peak_rss_mb": {k: round(v, 1) for k, v in peer.peak_mb.items()},
    }


def run_peer(journeys: list[Journey], quick: bool) -> dict[str, Any]:
    """The peer's figures, or why there are none (``{"built": False, "refused": …}``)."""
    binary, how = build()
    if binary is None:
        console.print(f"[red]peer not built[/]: {how}")
        return {"engine": "temporal", "built": False, "refused": how}
    state = ROOT / ".local" / "bench-peer" / uuid.uuid4().hex[:8]
    rates = (10.0, 20.0, 40.0) if quick else (10.0, 20.0, 40.0, 80.0, 120.0, 160.0, 240.0)
    try:
        with Peer(binary, state).running() as peer:
            import uvloop

            figures = uvloop.run(measure_peer(peer, journeys, rates, 10.0 if quick else 20.0))
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return {"engine": "temporal", "built": True, "binary": how, **figures}

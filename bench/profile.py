"""`make profile`: where the pipeline's time goes, at one offered rate.

    python -m bench.profile --rate 220 --seconds 20

Starts the servers and the four services as `make bench` does, offers generated journeys at ``--rate`` a
second for ``--seconds``, and meanwhile
- records each service with py-spy (``bench/results/profile/<service>.txt``: the collapsed stacks, and a top
  list of the functions that use the most time, by themselves and with what they call);
- measures the CPU seconds each process used: the four services, the Kafka broker, PostgreSQL (all its
  backends) and this generator.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Annotated

import asyncpg
import psutil
import typer
from rich.console import Console
from rich.table import Table

from bench.drill import System, generate
from bench.pipeline import run_stage
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES

console = Console()
ROOT = project_root()
OUT = ROOT / "bench" / "results" / "profile"


def process_groups(system: System) -> dict[str, list[psutil.Process]]:
    groups: dict[str, list[psutil.Process]] = {}
    for name, managed in system.processes.items():
        parent = psutil.Process(managed.popen.pid)
        groups[name] = [parent, *parent.children(recursive=True)]
    kafka: list[psutil.Process] = []
    postgres: list[psutil.Process] = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(system.state) not in cmd and not proc.info["name"].startswith("postgres"):
            continue
        if "kafka" in cmd and "java" in (proc.info["name"] or ""):
            kafka.append(proc)
        elif (proc.info["name"] or "").startswith("postgres"):
            postgres.append(proc)
    groups["kafka"] = kafka
    groups["postgres"] = postgres
    groups["generator"] = [psutil.Process()]
    return groups


def cpu_seconds(groups: dict[str, list[psutil.Process]]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by group and pid."""
    totals: dict[str, dict[int, float]] = {}
    for name, procs in groups.items():
        totals[name] = {}
        for proc in procs:
            try:
                times = proc.cpu_times()
                totals[name][proc.pid] = times.user + times.system
            except psutil.Error:
                pass
    return totals


def used_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used in between; a process that started in between (a new pooled backend) counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def summarise(raw: Path, top: int = 40) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "## by itself"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "## with what it calls"]
    lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"


async def offer(system: System, rate: float, seconds: float) -> None:
    pools = {s.name: await asyncpg.create_pool(system.dsn(s.name), min_size=1, max_size=2) for s in SERVICES}
    try:
        journeys = generate(int(rate * seconds), seed=41)

        async def nothing() -> None:
            return None

        stage = await run_stage(system, pools, journeys, rate, nothing)
        console.print(stage.as_dict())
    finally:
        for pool in pools.values():
            await pool.close()


def main(
    rate: Annotated[float, typer.Option(help="Journeys offered per second")] = 220,
    seconds: Annotated[float, typer.Option(help="How long to offer them")] = 20,
    warm_up: Annotated[float, typer.Option(help="Journeys/s for 10 s before profiling starts")] = 40,
) -> None:
    state = ROOT / ".local" / "bench-profile" / uuid.uuid4().hex[:8]
    OUT.mkdir(parents=True, exist_ok=True)
    system = System(state)
    system.start()
    try:
        asyncio.run(system.wait_ready())
        asyncio.run(offer(system, warm_up, 10))
        groups = process_groups(system)
        spy = str(ROOT / ".venv" / "bin" / "py-spy")
        spies = {}
        for name, managed in system.processes.items():
            argv = [spy, "record", "--pid", str(managed.popen.pid), "--format", "raw", "--rate", "100",
                    "--nonblocking", "--output", str(OUT / f"{name}.raw")]  # fmt: skip
            spies[name] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = cpu_seconds(groups)
        machine_before = psutil.cpu_times()
        started = time.monotonic()
        asyncio.run(offer(system, rate, seconds))
        wall = time.monotonic() - started
        after = cpu_seconds(process_groups(system))
        machine_after = psutil.cpu_times()
        for spy in spies.values():
            spy.send_signal(2)
        for spy in spies.values():
            spy.wait(30)
        table = Table("process", "CPU s", "cores busy")
        for name in groups:
            used = used_between(before[name], after[name])
            table.add_row(name, f"{used:.1f}", f"{used / wall:.2f}")
        busy = sum(getattr(machine_after, f) - getattr(machine_before, f) for f in ("user", "system", "nice",
                   "irq", "softirq", "steal"))  # fmt: skip
        table.add_row("whole machine", f"{busy:.1f}", f"{busy / wall:.2f}")
        table.add_row("wall", f"{wall:.1f}", "")
        console.print(table)
        for name in system.processes:
            raw = OUT / f"{name}.raw"
            if raw.exists():
                (OUT / f"{name}.txt").write_text(summarise(raw))
        console.print(f"profiles in {OUT}")
    finally:
        system.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    typer.run(main)

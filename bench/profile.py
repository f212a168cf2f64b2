"""`make profile`: where the pipeline's time goes, at one offered rate.

    python -m bench.profile --rate 220 --seconds 20

Starts the servers and the four services as `make bench` does, offers generated journeys at ``--rate`` a
second for ``--seconds``, and meanwhile
- records each service with py-spy (``bench/results/profile/<service>.txt``: the collapsed stacks, and a top
  list of the functions that use the most time, by themselves and with what they call);
- measures the CPU seconds each process used: the four services, the Kafka broker, PostgreSQL (all its
  backends) and this generator;
- counts what each service's database ran per applied event (``bench/results/profile/statements.txt``, from
  ``pg_stat_statements``): statements per event and those taking the most server time.
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
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil
import typer
import uvloop
from rich.console import Console
from rich.table import Table

from bench.cpu import busy_seconds, cpu_by_process, used_since
from bench.drill import KAFKA_ONLY_MIX, System, generate
from bench.pipeline import SERVER_COUNTERS, Progress, run_stage
from dipflow.devstack.paths import project_root
from dipflow.devstack.process import ManagedProcess
from dipflow.devstack.services import SERVICES

console = Console()
ROOT = project_root()
OUT = ROOT / "bench" / "results" / "profile"


def consumer_figures(system: System) -> list[str]:
    """Per consumer group: polls, mean records per poll, mean apply and commit time per poll, and what became
    of the records (applied, skipped as a type the group does not need, duplicate, dead-lettered)."""
    from prometheus_client.parser import text_string_to_metric_families

    lines = []
    for name in system.processes:
        text = httpx.get(f"{system.url(name)}/metrics", timeout=5).text
        sums: dict[tuple[str, str], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(
                    (
                        "dipflow_consumer_poll_records",
                        "dipflow_consumer_phase_seconds",
                        "dipflow_consumer_records_total",
                    )
                ):
                    label = sample.labels.get("phase", sample.labels.get("outcome", ""))
                    key = (sample.labels["group"], sample.name + ":" + label)
                    sums[key] = sums.get(key, 0.0) + sample.value
        for group in sorted({g for g, _ in sums}):
            polls = sums.get((group, "dipflow_consumer_poll_records_count:"), 0.0)
            if not polls:
                continue
            records = sums[(group, "dipflow_consumer_poll_records_sum:")] / polls
            apply = sums.get((group, "dipflow_consumer_phase_seconds_sum:apply"), 0.0) / polls * 1000
            commit = sums.get((group, "dipflow_consumer_phase_seconds_sum:commit"), 0.0) / polls * 1000
            outcomes = ", ".join(
                f"{outcome} {sums[(group, 'dipflow_consumer_records_total:' + outcome)]:.0f}"
                for outcome in ("applied", "skipped", "duplicate", "dead_lettered")
                if sums.get((group, "dipflow_consumer_records_total:" + outcome))
            )
            lines.append(
                f"{group}: {polls:.0f} polls, {records:.0f} records/poll, apply {apply:.1f} ms, "
                f"commit {commit:.1f} ms; {outcomes}"
            )
    return lines


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


STATEMENTS = """
SELECT d.datname AS database, s.query, sum(s.calls)::bigint AS calls, sum(s.total_exec_time)::float8 AS ms,
       sum(s.rows)::bigint AS rows, sum(s.wal_bytes)::float8 AS wal_bytes, sum(s.wal_fpi)::bigint AS wal_fpi,
       sum(s.shared_blks_read)::bigint AS blocks_read, sum(s.shared_blks_hit)::bigint AS blocks_hit
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
GROUP BY d.datname, s.query
"""


def server_report(row: asyncpg.Record, applied: int) -> str:
    """The whole server's WAL per applied event (full-page images are the first change to a page after a
    checkpoint) and the checkpoints taken while the journeys ran."""
    events = max(applied, 1)
    return (
        f"## server: {row['wal_bytes'] / events:,.0f} bytes of WAL, {row['wal_records'] / events:.1f} records and "
        f"{row['wal_fpi'] / events:.2f} full-page images per applied event; checkpoints: {row['num_timed']} timed, "
        f"{row['num_requested']} requested, {row['buffers_written']} buffers written\n"
    )


COMMITS = "SELECT datname, xact_commit FROM pg_stat_database WHERE datname IS NOT NULL"
SEQUENTIAL_SCANS = "SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables"


async def sequential_scans(pools: dict[str, asyncpg.Pool]) -> dict[tuple[str, str], tuple[int, int]]:
    """(scans, rows read) of each service table read whole so far, by (service, table)."""
    return {
        (name, r["relname"]): (r["seq_scan"], r["seq_tup_read"])
        for name, pool in pools.items()
        for r in await pool.fetch(SEQUENTIAL_SCANS)
    }


def sequential_scans_report(
    before: dict[tuple[str, str], tuple[int, int]],
    after: dict[tuple[str, str], tuple[int, int]],
    applied: int,
) -> str:
    """The tables read whole while the journeys ran, with their rows read per applied event: a read that
    should use an index and does not (a prepared statement's generic plan made while its table was small)
    shows here."""
    lines = []
    for key, (scans, rows) in sorted(after.items()):
        scans_before, rows_before = before.get(key, (0, 0))
        scans, rows = scans - scans_before, rows - rows_before
        if scans:
            lines.append(
                f"  {key[0]}.{key[1]}: {scans} scans, {rows / max(applied, 1):,.1f} rows read per applied event"
            )
    return "## tables read whole\n" + ("\n".join(lines) or "  none") + "\n"


def statements_report(
    rows: list[asyncpg.Record], applied: dict[str, int], commits: dict[str, int], top: int = 15
) -> str:
    """Per service database: statements and committed transactions per applied event, and the statements
    taking the most server time with their calls per applied event and mean time."""
    lines: list[str] = []
    for service in sorted(applied):
        mine = sorted((r for r in rows if r["database"] == service), key=lambda r: -r["ms"])
        events = max(applied[service], 1)
        calls = sum(r["calls"] for r in mine)
        total_ms = sum(r["ms"] for r in mine) or 1.0
        wal = sum(r["wal_bytes"] for r in mine)
        fpi = sum(r["wal_fpi"] for r in mine)
        read, hit = sum(r["blocks_read"] for r in mine), sum(r["blocks_hit"] for r in mine)
        lines += [
            f"## {service}: {applied[service]} applied events, {calls / events:.1f} statements, "
            f"{commits.get(service, 0) / events:.2f} commits, "
            f"{1000 * total_ms / events:.0f} µs of statement time and {wal / events:,.0f} bytes of WAL "
            f"({fpi / events:.2f} full pages) per applied event; {read / events:.2f} blocks read from outside "
            f"shared buffers, {hit / events:.1f} found in them",
            "calls/event   mean ms   share  WAL B/event  statement",
        ]
        for r in mine[:top]:
            query = " ".join(r["query"].split())[:150]
            lines.append(
                f"{r['calls'] / events:11.2f} {r['ms'] / max(r['calls'], 1):9.3f} {100 * r['ms'] / total_ms:6.1f}%"
                f" {r['wal_bytes'] / events:12,.0f}  {query}"
            )
        lines.append("")
    return "\n".join(lines)


async def offer(system: System, rate: float, seconds: float, statements: bool = False) -> tuple[int, str]:
    """Offer the journeys; print each service's applied events per second and when it caught up; with
    ``statements``, also what each service's database ran per applied event (pg_stat_statements). Returns the
    events applied and that report."""
    pools = {s.name: await asyncpg.create_pool(system.dsn(s.name), min_size=1, max_size=2) for s in SERVICES}
    superuser = await asyncpg.connect(system.stack.postgres.dsn())
    report = ""
    commits_before: dict[str, int] = {}
    scans_before: dict[tuple[str, str], tuple[int, int]] = {}
    if statements:
        await superuser.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await superuser.execute("SELECT pg_stat_statements_reset()")
        await superuser.execute("SELECT pg_stat_reset_shared('wal'), pg_stat_reset_shared('checkpointer')")
        commits_before = {r["datname"]: r["xact_commit"] for r in await superuser.fetch(COMMITS)}
        scans_before = await sequential_scans(pools)
    finished: dict[str, float] = {}
    started = time.monotonic()

    progress = Progress(system, list(pools))

    async def watch() -> None:
        last = await progress.counts()
        while True:
            await asyncio.sleep(0.5)
            now = await progress.counts()
            for name in now:
                if now[name] != last[name]:
                    finished[name] = time.monotonic() - started
            last = now

    waits: dict[str, Counter[str]] = {name: Counter() for name in pools}

    async def sample_waits() -> None:
        """What each service's database sessions are doing, sampled every 50 ms: running, waiting for the
        service (ClientRead), for a lock, for the WAL to reach the disk…"""
        while True:
            await asyncio.sleep(0.05)
            for name, pool in pools.items():
                rows = await pool.fetch(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
                for r in rows:
                    if r["state"] == "idle":
                        continue
                    waits[name][
                        f"{r['state']}:{r['wait_event_type'] or '-'}:{r['wait_event'] or 'running'}"
                    ] += 1

    try:
        journeys = generate(int(rate * seconds), seed=41, mix=KAFKA_ONLY_MIX)
        watcher = asyncio.create_task(watch())
        sampler = asyncio.create_task(sample_waits())
        stage = await run_stage(system, pools, journeys, rate, _nothing)
        watcher.cancel()
        sampler.cancel()
        console.print(stage.as_dict())
        for name, counts in waits.items():
            total = sum(counts.values()) or 1
            top = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counts.most_common(6))
            console.print(f"{name} sessions: {top}")
        for name, at in finished.items():
            console.print(
                f"{name}: {stage.by_service.get(name, 0) / at:,.0f} applied/s, caught up at {at:.1f} s"
            )
        if statements:
            databases = {name: urlsplit(system.dsn(name)).path.lstrip("/") for name in pools}
            applied = {databases[name]: n for name, n in stage.by_service.items()}
            await asyncio.sleep(1.5)  # pg_stat_database holds what each backend last reported, up to 1 s late
            commits = {
                r["datname"]: r["xact_commit"] - commits_before.get(r["datname"], 0)
                for r in await superuser.fetch(COMMITS)
            }
            total = sum(stage.by_service.values())
            report = statements_report(await superuser.fetch(STATEMENTS), applied, commits)
            report += server_report(await superuser.fetchrow(SERVER_COUNTERS), total)
            report += sequential_scans_report(scans_before, await sequential_scans(pools), total)
    finally:
        await progress.close()
        await superuser.close()
        for pool in pools.values():
            await pool.close()
    return sum(stage.by_service.values()), report


async def _nothing() -> None:
    return None


def main(
    rate: Annotated[float, typer.Option(help="Journeys offered per second")] = 220,
    seconds: Annotated[float, typer.Option(help="How long to offer them")] = 20,
    warm_up: Annotated[float, typer.Option(help="Journeys/s offered before profiling starts")] = 40,
    warm_up_seconds: Annotated[
        float, typer.Option(help="For how long the warm-up journeys are offered")
    ] = 10,
    native: Annotated[
        bool,
        typer.Option(
            help="Sample native frames too (Cython, C: asyncpg's protocol, uvloop, ssl), pausing each process "
            "for every sample: where the time a plain profile gives the event loop itself goes"
        ),
    ] = False,
) -> None:
    state = ROOT / ".local" / "bench-profile" / uuid.uuid4().hex[:8]
    OUT.mkdir(parents=True, exist_ok=True)
    system = System(state, full_compiler=True)
    system.stack.postgres.extra_settings = ("shared_preload_libraries=pg_stat_statements",)
    system.start()
    try:
        asyncio.run(system.wait_ready())
        asyncio.run(offer(system, warm_up, warm_up_seconds))
        spy = str(ROOT / ".venv" / "bin" / "py-spy")
        spies = {}
        for name, managed in system.processes.items():
            argv = [
                spy,
                "record",
                "--pid",
                str(managed.popen.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                *(["--native"] if native else ["--nonblocking"]),
                "--output",
                str(OUT / f"{name}.raw"),
            ]
            spies[name] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = cpu_by_process(system)
        machine_before = psutil.cpu_times()
        started = time.monotonic()
        applied, statements = uvloop.run(offer(system, rate, seconds, statements=True))  # as make bench
        (OUT / "statements.txt").write_text(statements)
        wall = time.monotonic() - started
        after = cpu_by_process(system)
        machine_after = psutil.cpu_times()
        for recorder in spies.values():
            recorder.send_signal(2)
        for recorder in spies.values():
            recorder.wait(30)
        table = Table("process", "CPU s", "cores busy", "µs per applied event")
        per_event = 1e6 / max(applied, 1)
        for name in after:
            used = used_since(before, after)[name]
            table.add_row(name, f"{used:.1f}", f"{used / wall:.2f}", f"{used * per_event:.0f}")
        busy = busy_seconds(machine_before, machine_after)
        table.add_row("whole machine", f"{busy:.1f}", f"{busy / wall:.2f}", f"{busy * per_event:.0f}")
        table.add_row("wall", f"{wall:.1f}", "")
        console.print(table)
        for line in consumer_figures(system):
            console.print(line)
        for name in system.processes:
            raw = OUT / f"{name}.raw"
            if raw.exists():
                (OUT / f"{name}.txt").write_text(summarise(raw))
        console.print(f"profiles in {OUT}")
    finally:
        exited = {name: m for name, m in system.processes.items() if m.popen.poll() is not None}
        system.stop()
        keep_logs(exited)
        shutil.rmtree(state, ignore_errors=True)


def keep_logs(exited: dict[str, ManagedProcess]) -> None:
    """The log of each service that exited before the profile stopped it, kept beside the profiles (the state
    folder, with every log, is removed): a profile once found custody gone after its warm-up, and nothing
    said why."""
    for name, managed in exited.items():
        kept = ROOT / ".local" / f"profile-exited-{name}.log"
        shutil.copyfile(managed.log_path, kept)
        console.print(
            f"[red]{name} exited (code {managed.popen.returncode}) before the profile ended: {kept}"
        )


if __name__ == "__main__":
    typer.run(main)

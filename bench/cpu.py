"""CPU seconds used by the system's processes (services, Kafka, PostgreSQL with its backends, this process)."""

from __future__ import annotations

from typing import Any

import psutil

from bench.drill import System


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


def cpu_by_process(system: System) -> dict[str, float]:
    """CPU seconds used so far by each group of processes (services, kafka, postgres, this generator)."""
    return {name: sum(pids.values()) for name, pids in cpu_seconds(process_groups(system)).items()}


def used_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in after}


def busy_seconds(before: Any, after: Any) -> float:
    """CPU seconds the whole machine was busy between two ``psutil.cpu_times()``."""
    fields = ("user", "system", "nice", "irq", "softirq", "steal")
    return float(sum(getattr(after, f) - getattr(before, f) for f in fields))


def used_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used in between; a process that started in between (a new pooled backend) counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

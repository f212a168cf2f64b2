"""CPU seconds used by the system's processes: the four services, the Kafka broker, PostgreSQL (the postmaster,
its live backends and those that have exited, which the postmaster's children times keep) and this process."""

from __future__ import annotations

from typing import Any

import psutil

from bench.drill import System


def _own(proc: psutil.Process, *, with_reaped_children: bool = False) -> float:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return 0.0
    total = times.user + times.system
    if with_reaped_children:
        total += times.children_user + times.children_system
    return float(total)


def _postmasters() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name"]):
        if not (proc.info["name"] or "").startswith("postgres"):
            continue
        try:
            parent = proc.parent()
        except psutil.Error:
            continue
        if parent is None or not (parent.name() or "").startswith("postgres"):
            found.append(proc)
    return found


def tree_cpu(parent: psutil.Process) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    return _own(parent, with_reaped_children=True) + sum(_own(c) for c in parent.children(recursive=True))


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server on the machine: postmasters, live backends and exited ones."""
    return sum(
        _own(master, with_reaped_children=True) + sum(_own(child) for child in master.children())
        for master in _postmasters()
    )


def own_cpu() -> float:
    """CPU seconds of this process (the bench, or the generator it runs) and of the worker processes it has
    reaped (a replay's)."""
    return _own(psutil.Process(), with_reaped_children=True)


def cpu_by_process(system: System) -> dict[str, float]:
    """CPU seconds used so far, by group; each total only grows, so two readings can be subtracted."""
    totals: dict[str, float] = {
        name: tree_cpu(psutil.Process(managed.popen.pid)) for name, managed in system.processes.items()
    }
    totals["kafka"] = sum(
        _own(proc)
        for proc in psutil.process_iter(["name", "cmdline"])
        if "java" in (proc.info["name"] or "")
        and str(system.state) in " ".join(proc.info["cmdline"] or [])
        and "kafka" in " ".join(proc.info["cmdline"] or [])
    )
    totals["postgres"] = postgres_cpu()
    totals["generator"] = own_cpu()
    return totals


def used_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in after}


def busy_seconds(before: Any, after: Any) -> float:
    """CPU seconds the whole machine was busy between two ``psutil.cpu_times()``."""
    fields = ("user", "system", "nice", "irq", "softirq", "steal")
    return float(sum(getattr(after, f) - getattr(before, f) for f in fields))

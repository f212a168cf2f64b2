"""Capacity and overload: the highest request rate the whole system holds, and what it does at twice that.

    python -m bench.capacity        (make load-capacity)

Runs ``bench.load`` stages at rising rates, each on a fresh system (``dipflow run``), with the generator
holding more connections per service than the service's slots (``…HTTP_MAX_IN_FLIGHT``), so that a service
past its capacity sheds (503 with Retry-After) instead of the generator queueing for it. A stage holds when
nothing is shed, there is no unexpected error, the accepted requests' p99 is at most 1 s and the
reconciliation of the accepted writes is exact. The capacity is the highest rate that held. Then one stage at
twice the capacity, judged on: shed requests answered within 100 ms (p99 of the exchange, from sending to
the answer), accepted p99 ≤ 1 s, no unexpected error, memory within the load bench's bounds, reconciliation
exact for what was accepted. Writes ``bench/results/<date>-capacity.{json,md}``.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.load import RESULTS_DIR, Bounds, console, run

ACCEPTED_P99_MS = 1000.0
SHED_P99_MS = 100.0


def summarise(rate: float, result: dict[str, Any]) -> dict[str, Any]:
    """One stage's figures and whether it held."""
    accepted = result["latency_ms"]["accepted"]
    verdict = result["verdict"]
    row = {
        "rate": rate,
        "sent_per_s": round(result["requests"]["sent_per_s"], 1),
        "answered_per_s": round(result["requests"]["answered_per_s"], 1),
        "accepted_p50_ms": accepted.get("p50"),
        "accepted_p99_ms": accepted.get("p99"),
        "shed": result["shed"]["count"],
        "shed_p50_ms": result["shed"]["exchange_ms"].get("p50"),
        "shed_p99_ms": result["shed"]["exchange_ms"].get("p99"),
        "shed_by_reason": result["shed"].get("by_reason", {}),
        "generator_lag_p99_ms": (result["requests"].get("generator_loop_lag_ms") or {}).get("p99"),
        "errors": result["requests"]["errors"],
        "memory_ok": all(verdict["memory_ok"].values()),
        "reconciled": verdict["drained_ok"],
        "peak_rss_mb": {r["process"]: r.get("max_mb") for r in result["memory_mb"]["table"]},
    }
    row["held"] = bool(
        row["shed"] == 0
        and row["errors"] == 0
        and (row["accepted_p99_ms"] or 0) <= ACCEPTED_P99_MS
        and row["reconciled"]
    )
    return row


def overload_targets(row: dict[str, Any]) -> dict[str, bool]:
    return {
        "shed within 100 ms (p99)": row["shed"] > 0 and (row["shed_p99_ms"] or 0) <= SHED_P99_MS,
        "accepted p99 ≤ 1 s": (row["accepted_p99_ms"] or 0) <= ACCEPTED_P99_MS,
        "no unexpected error": row["errors"] == 0,
        "memory within bounds": row["memory_ok"],
        "accepted writes reconciled": row["reconciled"],
    }


def to_markdown(found: dict[str, Any]) -> str:
    head = (
        "| rate | sent/s | answered/s | accepted p50 ms | accepted p99 ms | shed | shed p50 / p99 ms | errors "
        "| generator's own lag p99 ms | held |"
    )
    lines = [
        f"# Capacity and overload, {found['date']}",
        "",
        f"Generator: {found['connections']} connections per service; each stage {found['stage_s']:.0f} s on a"
        " fresh system. Capacity: the highest rate held (nothing shed, no error, accepted p99 ≤ 1 s, accepted"
        " writes reconciled).",
        "",
        head,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in [*found["stages"], found["overload"]]:
        lines.append(
            f"| {row['rate']:.0f} | {row['sent_per_s']} | {row['answered_per_s']} | {row['accepted_p50_ms']:.0f} "
            f"| {row['accepted_p99_ms']:.0f} | {row['shed']} | {row.get('shed_p50_ms') or 0:.0f} / "
            f"{row['shed_p99_ms'] or 0:.0f} | {row['errors']} | {row.get('generator_lag_p99_ms') or 0:.0f} "
            f"| {'yes' if row['held'] else 'no'} |"
        )
    lines += [
        "",
        f"**Capacity: {found['capacity']:.0f} requests/s.**",
        "",
        f"At {found['overload']['rate']:.0f}/s:",
    ]
    lines += [f"- {name}: {'met' if met else 'MISSED'}" for name, met in found["targets"].items()]
    if by_reason := found["overload"].get("shed_by_reason"):
        shed = ", ".join(f"{where} {n:,}" for where, n in by_reason.items())
        lines += [
            "",
            f"Shed at {found['overload']['rate']:.0f}/s, by service and why (its own counters): {shed}.",
        ]
    return "\n".join(lines) + "\n"


def main(
    start: Annotated[float, typer.Option(help="First stage's requests a second")] = 50.0,
    step: Annotated[float, typer.Option(help="Each stage's rate over the last")] = 1.3,
    max_rate: Annotated[float, typer.Option(help="Stop rising here")] = 1500.0,
    stage: Annotated[float, typer.Option(help="Seconds of each stage")] = 30.0,
    overload: Annotated[float, typer.Option(help="Seconds at twice the capacity")] = 60.0,
    connections: Annotated[int, typer.Option(help="Generator connections per service")] = 256,
    seed: Annotated[int, typer.Option()] = 2008,
    results_dir: Annotated[Path, typer.Option()] = RESULTS_DIR,
) -> None:
    bounds = Bounds(rate_tolerance=0.05, growth_mb=25.0, max_rss_mb=200.0, settle_s=stage / 2)

    def stage_at(rate: float, seconds: float) -> dict[str, Any]:
        result, _ = run(
            rate=rate,
            duration=seconds,
            warmup=5.0,
            seed=seed,
            bounds=bounds,
            drain_timeout=180.0,
            keep=False,
            results_dir=results_dir,
            connections=connections,
            write=False,
        )
        return summarise(rate, result)

    stages: list[dict[str, Any]] = []
    capacity, rate = 0.0, start
    while rate <= max_rate:
        row = stage_at(rate, stage)
        stages.append(row)
        console.print(row)
        if not row["held"]:
            break
        capacity, rate = rate, round(rate * step)
    if capacity == 0:
        console.print("[red]not even the first stage held[/]")
        raise typer.Exit(1)
    over = stage_at(2 * capacity, overload)
    targets = overload_targets(over)
    found = {
        "benchmark": "capacity",
        "date": date.today().isoformat(),
        "connections": connections,
        "stage_s": stage,
        "stages": stages,
        "capacity": capacity,
        "overload": over,
        "targets": targets,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = results_dir / f"{found['date']}-capacity"
    stem.with_suffix(".json").write_text(json.dumps(found, indent=2) + "\n")
    stem.with_suffix(".md").write_text(to_markdown(found))
    console.print(to_markdown(found))
    raise typer.Exit(0 if all(targets.values()) else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    typer.run(main)

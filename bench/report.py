"""Results of a bench run: the rich table, ``<date>-backbone.json`` and ``<date>-backbone.md``."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ORDER = ("outbox_write", "relay", "raw_produce", "consumer", "raw_consume")


@dataclass
class Metric:
    key: str
    label: str
    events: int
    seconds: float
    first_after_s: float | None = None  # start → first progress: connect, group join, first batch
    baseline: str | None = None  # key of the raw metric this one is compared with
    note: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Result:
    config: dict[str, Any]
    machine: dict[str, Any]
    metrics: dict[str, Metric]
    checks: dict[str, Any]
    started_at: datetime = field(default_factory=lambda: datetime.now().astimezone())
    wall_s: float = 0.0

    def ratio(self, metric: Metric) -> float | None:
        if metric.baseline is None or metric.baseline not in self.metrics:
            return None
        base = self.metrics[metric.baseline].rate
        return metric.rate / base if base else None

    def ordered(self) -> list[Metric]:
        known = [self.metrics[k] for k in ORDER if k in self.metrics]
        return known + [m for k, m in self.metrics.items() if k not in ORDER]


def machine_info(**servers: str) -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiokafka": metadata.version("aiokafka"),
        "asyncpg": metadata.version("asyncpg"),
        **servers,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:.1%}" if ratio < 0.1 else f"{ratio:.0%}"


def _fmt_first(metric: Metric) -> str:
    return "" if metric.first_after_s is None else f"{metric.first_after_s:.2f}"


def print_table(console: Console, result: Result) -> None:
    table = Table(title=f"Event backbone throughput ({result.config['events']:,} events)")
    table.add_column("Measurement")
    table.add_column("Events", justify="right")
    table.add_column("Seconds", justify="right")
    table.add_column("Events/s", justify="right", style="bold")
    table.add_column("First progress (s)", justify="right")
    table.add_column("vs raw baseline", justify="right")
    for metric in result.ordered():
        table.add_row(
            metric.label,
            f"{metric.events:,}",
            f"{metric.seconds:.2f}",
            f"{metric.rate:,.0f}",
            _fmt_first(metric),
            _fmt_ratio(result.ratio(metric)),
        )
    console.print(table)


def to_json(result: Result) -> dict[str, Any]:
    return {
        "benchmark": "backbone",
        "date": result.started_at.date().isoformat(),
        "started_at": result.started_at.isoformat(timespec="seconds"),
        "wall_seconds": round(result.wall_s, 1),
        "machine": result.machine,
        "config": result.config,
        "metrics": {
            m.key: {
                "label": m.label,
                "events": m.events,
                "seconds": round(m.seconds, 4),
                "events_per_s": round(m.rate, 1),
                "first_progress_s": None if m.first_after_s is None else round(m.first_after_s, 4),
                "baseline": m.baseline,
                "ratio_to_baseline": None if (r := result.ratio(m)) is None else round(r, 3),
                **({"note": m.note} if m.note else {}),
            }
            for m in result.ordered()
        },
        "checks": result.checks,
    }


def to_markdown(result: Result) -> str:
    mc, cfg = result.machine, result.config
    lines = [
        f"# Event backbone throughput — {result.started_at.date().isoformat()}",
        "",
        f"Machine: {mc['cpu_count']} CPUs ({mc['cpu_model']}), {mc['memory_gb']} GB, Python {mc['python']}, "
        f"Kafka {mc['kafka']} (single KRaft node), PostgreSQL {mc['postgres']} "
        f"({'fsync on' if cfg['postgres_durable'] else 'fsync off'}), aiokafka {mc['aiokafka']}, "
        f"asyncpg {mc['asyncpg']}.",
        "",
        f"{cfg['events']:,} events of ~{cfg['record_bytes_avg']:.0f} bytes, {cfg['partitions']} partitions; "
        f"outbox transactions of {cfg['outbox_txn_size']}, relay batch {cfg['relay_batch_size']}, "
        f"consumer max batch {cfg['consumer_max_batch']}.",
        "",
        "| Measurement | Events | Seconds | Events/s | First progress (s) | vs raw baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in result.ordered():
        lines.append(
            f"| {m.label} | {m.events:,} | {m.seconds:.2f} | {m.rate:,.0f} | {_fmt_first(m)} "
            f"| {_fmt_ratio(result.ratio(m))} |"
        )
    ck = result.checks
    lines += [
        "",
        f"Exactly once: {ck['effects_rows']:,} effects rows, {ck['effects_distinct_event_ids']:,} distinct "
        f"event ids (= events written: {ck['effects_match_written_ids']}); {ck['records_on_events_topic']:,} "
        f"records on the topic, {ck['consumer_duplicates_skipped']} duplicates skipped, "
        f"{ck['consumer_dead_lettered']} dead-lettered.",
        "",
        "Times run from starting the component (connect, producer start, consumer-group join) until the last "
        "event is done; *first progress* is how much of that was start-up. The raw rows are plain aiokafka with "
        "the relay's producer settings (acks=all, idempotent), sent in chunks of the relay batch size, and a "
        "plain group consumer that does no parsing and no database work. One run on a shared machine: expect "
        "some run-to-run noise. Whole run (servers included): "
        f"{result.wall_s:.0f}s. See bench/README.md.",
        "",
    ]
    return "\n".join(lines)


def write_results(result: Result, results_dir: Path) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{result.started_at.date().isoformat()}-backbone"
    json_path = results_dir / f"{stem}.json"
    md_path = results_dir / f"{stem}.md"
    json_path.write_text(json.dumps(to_json(result), indent=2, default=str) + "\n")
    md_path.write_text(to_markdown(result))
    return json_path, md_path

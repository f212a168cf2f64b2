"""The pipeline bench's Markdown summary and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {"sustained": 2000.0, "ratio": 0.25, "p99": 250.0, "p50": 50.0, "replay": 20000.0, "rss": 150.0}


def _ok(good: bool) -> str:
    return "met" if good else "**missed**"


def markdown(r: dict[str, Any], png: str) -> str:
    raw = r["raw_kafka"]["events_per_s"]
    sustained = r["sustained_events_per_s"]
    lat = r["latency"]["positive_to_inbox"]
    replay = r["replay"]["events_per_s"]
    peak_rss = max(m["peak_under_load"] for m in r["memory_mb"].values())
    lines = [
        f"# Pipeline bench — {r['at']}",
        "",
        f"Machine: {r['machine']['cpus']} CPUs, {r['machine']['memory_gb']} GB, Python {r['machine']['python']}; "
        "Kafka (one KRaft node) and PostgreSQL on the same machine as the four services and the load generator.",
        "",
        "## Against the targets",
        "",
        "| measure | target | measured | |",
        "|---|---:|---:|---|",
        f"| sustained events/s, exactly-once effects | ≥ {TARGETS['sustained']:,.0f} | {sustained:,.0f} | "
        f"{_ok(sustained >= TARGETS['sustained'] and r['reconciliation']['exact'])} |",
        f"| ratio to the raw Kafka round trip ({raw:,.0f}/s) | ≥ {TARGETS['ratio']} | {sustained / raw:.3f} | "
        f"{_ok(sustained / raw >= TARGETS['ratio'])} |",
        f"| p50 positive result → worker inbox at ~200 events/s | ≤ {TARGETS['p50']:.0f} ms | {lat['p50_ms']} ms | "
        f"{_ok(lat['p50_ms'] <= TARGETS['p50'])} |",
        f"| p99 positive result → worker inbox | ≤ {TARGETS['p99']:.0f} ms | {lat['p99_ms']} ms | "
        f"{_ok(lat['p99_ms'] <= TARGETS['p99'])} |",
        f"| replay events/s | ≥ {TARGETS['replay']:,.0f} | {replay:,.0f} | {_ok(replay >= TARGETS['replay'])} |",
        f"| resident memory per service under load | ≤ {TARGETS['rss']:.0f} MB | max {peak_rss:.0f} MB | "
        f"{_ok(peak_rss <= TARGETS['rss'])} |",
        "",
        f"![throughput and latency]({png})",
        "",
        "## Baseline (same run, same servers)",
        "",
        f"- Raw aiokafka produce→consume, {r['raw_kafka']['records']:,} records of {r['raw_kafka']['bytes']} bytes "
        f"(acks=all, idempotent): {raw:,.0f} events/s; latency p50 {r['raw_kafka']['latency']['p50_ms']} ms, "
        f"p99 {r['raw_kafka']['latency']['p99_ms']} ms.",
        f"- Raw PostgreSQL, an inbox row and an outbox row per commit from {r['raw_postgres']['connections']} "
        f"connections: {r['raw_postgres']['commits_per_s']:,.0f} commits/s.",
        "",
        "## Throughput stages",
        "",
        "An event is one record applied by one service's consumer (an inbox row, written in the transaction of "
        "its effects). A stage holds when the services drain what it offered within a quarter of its length.",
        "",
        "| journeys/s offered | journeys | commands | applied events | drain s | applied events/s | held |",
        "|---:|---:|---:|---:|---:|---:|---|",
        *[
            f"| {s['journeys_per_s']} | {s['journeys']} | {s['commands']:,} | {s['applied']:,} | {s['drain_s']} | "
            f"{s['applied_per_s']:,.0f} | {'yes' if s['held'] else 'no'} |"
            for s in r["stages"]
        ],
        "",
        "Reconciliation after the stages: "
        + ("every journey's effects exactly once." if r["reconciliation"]["exact"] else "**mismatch**")
        + " "
        + "; ".join(
            f"{k} {v['found']:,}/{v['expected']:,}" for k, v in r["reconciliation"]["checks"].items()
        ),
        "",
        "## Latency",
        "",
        f"At {r['latency']['measured_applied_events_per_s']:,.0f} applied events/s of background load: "
        f"{r['latency']['arrived']} of {r['latency']['probes']} probes arrived. Positive result accepted by "
        f"custody → assignment on the worker's live inbox stream: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, "
        f"p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms.",
        "",
        f"Failure to attend recorded (referral answers) → the probation liaison webhook receiving the arrest "
        f"request (breach; notifications are sent by durable timers polled every second): "
        f"{r['latency']['failure_to_liaison']['n']} of {r['latency']['failure_probes']} arrived; "
        f"p50 {r['latency']['failure_to_liaison']['p50_ms']} ms, p95 {r['latency']['failure_to_liaison']['p95_ms']} ms, "
        f"p99 {r['latency']['failure_to_liaison']['p99_ms']} ms, max {r['latency']['failure_to_liaison']['max_ms']} ms.",
        "",
        "## Replay",
        "",
        f"{r['replay']['detentions']:,} detentions ({r['replay']['events']:,} events) rebuilt into the PPO "
        f"register's read models in {r['replay']['replay_s']:.1f} s: {replay:,.0f} events/s "
        f"({r['replay']['applied']:,} applied, {r['replay']['skipped']:,} of types the register does not read).",
        "",
        "## Footprint",
        "",
        f"Cold start (servers and the four services to ready): {r['cold_start_s']} s.",
        "",
        "| service | idle MB | peak under load MB |",
        "|---|---:|---:|",
        *[f"| {n} | {m['idle']} | {m['peak_under_load']} |" for n, m in r["memory_mb"].items()],
        "",
    ]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    stages = r["stages"]
    offered = [s["journeys_per_s"] for s in stages]
    left.plot(offered, [s["applied_per_s"] for s in stages], marker="o", label="applied events/s")
    left.axhline(r["raw_kafka"]["events_per_s"], color="grey", linestyle="--", label="raw Kafka round trip")
    left.axhline(2000, color="tab:red", linestyle=":", label="target 2,000/s")
    left.set_xlabel("journeys/s offered")
    left.set_ylabel("events/s")
    left.set_yscale("log")
    left.set_title("Pipeline throughput")
    left.legend(fontsize=8)
    samples = r["latency"]["samples_ms"]
    right.hist(samples, bins=30, color="tab:blue")
    for q, style in (("p50_ms", "-"), ("p99_ms", "--")):
        right.axvline(r["latency"]["positive_to_inbox"][q], color="black", linestyle=style, label=q)
    right.set_xlabel("ms, positive result accepted → worker inbox")
    right.set_title(f"Latency at ~{r['latency']['measured_applied_events_per_s']:.0f} events/s")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

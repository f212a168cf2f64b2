"""Prometheus metrics of the idempotent consumers, labelled by consumer group (never by person or event)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter(
    "dipflow_consumer_records_total",
    "Records consumed, by what became of them: applied, duplicate, dead_lettered, skipped",
    ["group", "outcome"],
)
LAG = Gauge("dipflow_consumer_lag_records", "Records on the consumer's partitions not yet applied", ["group"])
POLL_RECORDS = Histogram(
    "dipflow_consumer_poll_records",
    "Records in one poll (applied in one transaction, or shared among parallel transactions)",
    ["group"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
PHASE_SECONDS = Histogram(
    "dipflow_consumer_phase_seconds",
    "Time per poll spent applying the partitions' transactions, and committing offsets to Kafka",
    ["group", "phase"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

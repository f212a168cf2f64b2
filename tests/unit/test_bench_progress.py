"""`make bench` tells whether the services are still applying from their counters, not by scanning the inboxes:
the count must move exactly when an inbox row is written."""

from __future__ import annotations

from bench.pipeline import inbox_records

METRICS = """\
# HELP dipflow_consumer_records_total Records consumed, by what became of them: applied, duplicate, dead_lettered, skipped
# TYPE dipflow_consumer_records_total counter
dipflow_consumer_records_total{group="breach.events",outcome="applied"} 15323.0
dipflow_consumer_records_total{group="breach.events",outcome="skipped"} 139613.0
dipflow_consumer_records_total{group="breach.events",outcome="duplicate"} 12.0
dipflow_consumer_records_total{group="breach.probation",outcome="applied"} 7731.0
dipflow_consumer_records_total{group="breach.probation",outcome="dead_lettered"} 2.0
# HELP dipflow_consumer_records_created Records consumed, by what became of them: applied, duplicate, dead_lettered, skipped
# TYPE dipflow_consumer_records_created gauge
dipflow_consumer_records_created{group="breach.events",outcome="applied"} 1.7648e+09
dipflow_consumer_poll_records_count{group="breach.events"} 8017.0
"""


def test_applied_and_dead_lettered_records_of_every_group_are_counted() -> None:
    assert inbox_records(METRICS) == 15323 + 7731 + 2


def test_skipped_and_duplicate_records_write_no_inbox_row_and_are_not_counted() -> None:
    assert inbox_records(METRICS.replace('outcome="skipped"} 139613.0', 'outcome="skipped"} 1.0')) == 23056


def test_a_service_that_applied_nothing_yet_counts_zero() -> None:
    assert inbox_records("# no consumer has polled yet\n") == 0

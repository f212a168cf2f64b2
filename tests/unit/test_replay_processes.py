"""How many processes a replay starts when not told: one per CPU, never one for too few records to pay for it;
and how its consumer reads."""

import pytest

from dipflow.events.replay import (
    QUICK_RETRY_MS,
    RECORDS_PER_PROCESS,
    SHORT_FETCH_WAIT_MS,
    processes_for,
    replay_consumer_options,
)
from tests.support.kafka_settings import fetch_wait_ms


def test_a_small_replay_runs_in_one_process_however_many_cpus() -> None:
    assert processes_for(RECORDS_PER_PROCESS - 1, 8) == 1
    assert processes_for(0, 8) == 1


def test_each_process_gets_at_least_its_share_of_records() -> None:
    assert processes_for(2 * RECORDS_PER_PROCESS, 8) == 2
    assert processes_for(3 * RECORDS_PER_PROCESS - 1, 8) == 2


def test_a_large_replay_runs_one_process_per_cpu() -> None:
    assert processes_for(315_188, 2) == 2
    assert processes_for(100 * RECORDS_PER_PROCESS, 4) == 4


def test_a_replay_reads_with_its_own_quick_consumer_whatever_the_services_fetch_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fetch_wait_ms(monkeypatch, 5000):
        options = replay_consumer_options("127.0.0.1:9092")
    assert options["fetch_max_wait_ms"] == SHORT_FETCH_WAIT_MS
    assert options["retry_backoff_ms"] == QUICK_RETRY_MS
    assert options["group_id"] is None and options["enable_auto_commit"] is False

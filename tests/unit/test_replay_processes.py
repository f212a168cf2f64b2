"""How many processes a replay starts when not told: one per CPU, never one for too few records to pay for it."""

from dipflow.events.replay import RECORDS_PER_PROCESS, processes_for


def test_a_small_replay_runs_in_one_process_however_many_cpus() -> None:
    assert processes_for(RECORDS_PER_PROCESS - 1, 8) == 1
    assert processes_for(0, 8) == 1


def test_each_process_gets_at_least_its_share_of_records() -> None:
    assert processes_for(2 * RECORDS_PER_PROCESS, 8) == 2
    assert processes_for(3 * RECORDS_PER_PROCESS - 1, 8) == 2


def test_a_large_replay_runs_one_process_per_cpu() -> None:
    assert processes_for(315_188, 2) == 2
    assert processes_for(100 * RECORDS_PER_PROCESS, 4) == 4

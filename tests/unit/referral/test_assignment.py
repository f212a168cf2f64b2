"""A3 appointment windows and A9 assignment: coverage, capacity, leave, working days, continuity."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dipflow.working_days import is_working_day
from dipflow_referral.domain.assignment import (
    LONDON,
    AppointmentPolicy,
    Leave,
    Loads,
    Worker,
    choose_worker,
    load_after,
    propose,
    window,
)

SUITE = "MET-BRIXTON"
POLICY = AppointmentPolicy()


def worker(
    wid: str,
    capacity: int = 2,
    suites: tuple[str, ...] = (SUITE,),
    leave: tuple[Leave, ...] = (),
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4}),
) -> Worker:
    return Worker(wid, frozenset(suites), capacity, days, leave)


def test_a3_the_window_is_the_week_after_the_result() -> None:
    result = datetime(2008, 6, 2, 14, tzinfo=UTC)  # Monday
    assert window(result, False, POLICY) == (date(2008, 6, 3), date(2008, 6, 9))


def test_a3_a_disputed_result_waits_five_working_days_after_dispatch() -> None:
    result = datetime(2008, 3, 19, 14, tzinfo=UTC)  # Wednesday before Easter 2008
    earliest, latest = window(result, True, POLICY)
    assert earliest == date(
        2008, 3, 28
    )  # Thu 20, Tue 25, Wed 26, Thu 27, Fri 28: Good Friday and Easter Monday skipped
    assert latest >= earliest + timedelta(days=6)


def test_a9_least_loaded_covering_worker_wins_and_capacity_is_honoured() -> None:
    day = date(2008, 6, 3)
    ws = [worker("W1"), worker("W2"), worker("W3", suites=("MET-CAMDEN",))]
    loads = Loads({("W1", day): 1})
    assert choose_worker(ws, loads, SUITE, day).worker_id == "W2"  # type: ignore[union-attr]
    full = Loads({("W1", day): 2, ("W2", day): 2})
    assert choose_worker(ws, full, SUITE, day) is None


def test_a9_leave_and_non_working_days_are_honoured() -> None:
    day = date(2008, 6, 3)  # Tuesday
    on_leave = worker("W1", leave=(Leave(date(2008, 6, 2), date(2008, 6, 6)),))
    part_time = worker("W2", days=frozenset({0}))
    assert choose_worker([on_leave, part_time], Loads(), SUITE, day) is None
    assert choose_worker([on_leave, part_time], Loads(), SUITE, date(2008, 6, 9)).worker_id == "W1"  # type: ignore[union-attr]


def test_a9_the_follow_up_stays_with_the_initial_worker_when_they_have_room() -> None:
    day = date(2008, 6, 3)
    ws = [worker("W1"), worker("W2")]
    busy_w2 = Loads({("W2", day): 1})
    assert choose_worker(ws, busy_w2, SUITE, day, prefer="W2").worker_id == "W2"  # type: ignore[union-attr]
    full_w2 = Loads({("W2", day): 2})
    assert choose_worker(ws, full_w2, SUITE, day, prefer="W2").worker_id == "W1"  # type: ignore[union-attr]


def test_a9_no_worker_means_a_proposal_without_one_for_the_unassigned_queue() -> None:
    proposal = propose(
        [], Loads(), suite=SUITE, earliest=date(2008, 6, 3), latest=date(2008, 6, 9), policy=POLICY
    )
    assert proposal.worker_id is None and proposal.at is None and "no worker" in proposal.reason


def test_a3_appointments_are_on_working_days_in_working_hours() -> None:
    proposal = propose(
        [worker("W1")],
        Loads(),
        suite=SUITE,
        earliest=date(2008, 12, 25),
        latest=date(2009, 1, 2),
        policy=POLICY,
    )
    assert proposal.at is not None
    local = proposal.at.astimezone(LONDON)
    assert local.date() == date(2008, 12, 29) and local.time() == time(9, 30)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.frozensets(st.integers(0, 6), min_size=1)), min_size=0, max_size=4
    ),
    st.integers(1, 60),
    st.integers(0, 30),
)
def test_a9_no_worker_is_ever_assigned_beyond_capacity(
    specs: list[tuple[int, frozenset[int]]], requests: int, start_offset: int
) -> None:
    ws = [Worker(f"W{i}", frozenset({SUITE}), cap, days) for i, (cap, days) in enumerate(specs)]
    loads = Loads()
    start = date(2008, 1, 1) + timedelta(days=start_offset)
    for _ in range(requests):
        proposal = propose(
            ws, loads, suite=SUITE, earliest=start, latest=start + timedelta(days=6), policy=POLICY
        )
        if proposal.worker_id is None:
            continue
        assert proposal.at is not None
        day = proposal.at.astimezone(LONDON).date()
        assert is_working_day(day) and start <= day <= start + timedelta(days=6)
        chosen = next(w for w in ws if w.worker_id == proposal.worker_id)
        assert day.weekday() in chosen.working_weekdays
        assert proposal.at not in loads.times.get((proposal.worker_id, day), frozenset())  # no double booking
        loads = load_after(loads, proposal.worker_id, day, proposal.at)
    for (wid, _), n in loads.by_worker_day.items():
        assert n <= next(w for w in ws if w.worker_id == wid).daily_capacity


def test_a9_a_freed_slot_is_reused_and_no_time_is_booked_twice() -> None:
    day = date(2008, 6, 3)
    first = slot(day, 0)
    third = slot(day, 2)
    loads = Loads({("W1", day): 2}, {("W1", day): frozenset({first, third})})  # the 10:30 appointment lapsed
    proposal = propose(
        [worker("W1", capacity=4)], loads, suite=SUITE, earliest=day, latest=day, policy=POLICY
    )
    assert proposal.at == slot(day, 1)


def slot(day: date, index: int) -> datetime:
    from dipflow_referral.domain.assignment import slot_time

    return slot_time(day, index, POLICY)

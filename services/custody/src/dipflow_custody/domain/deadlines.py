"""T9/T10 time limits for holding a person for a sample, and the T12 wait for a confirmatory result.

A sample is lawful or not by when it was taken against the limit these functions compute from the detention's
facts; the durable timers only tell read models and people that a limit passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dipflow.working_days import LONDON, add_working_days
from dipflow_custody.domain.eligibility import Stage, TestDecision

AFTER_CHARGE = timedelta(hours=6)  # PACE s.38: at most 6 hours from charge
PRE_CHARGE_BAIL = timedelta(hours=24)  # s.37(8A): at most 24 hours after the relevant time
CARRY_OVER = timedelta(hours=24)  # T9: within 24 hours of the start of detention for the trigger offence
ARRIVAL_AT_THE_LATEST = timedelta(hours=24)  # PACE s.41(2)(d): the relevant time is at most 24 h after arrest

HOLD_AFTER_CHARGE = "hold_after_charge"  # T10, s.38
HOLD_PRE_CHARGE = "hold_pre_charge"  # T10 s.37(8A) and T9 carry-over: 24 h from the start of detention
CONFIRMATION_DUE = "confirmation_due"  # T12: the confirmatory result is due


def relevant_time(arrested_at: datetime, booked_in_at: datetime) -> datetime:
    """The start of detention: arrival at the station (taken as the booking in), or 24 hours after the arrest if
    that is earlier (PACE s.41(2)(d))."""
    return min(booked_in_at, arrested_at + ARRIVAL_AT_THE_LATEST)


@dataclass(frozen=True)
class TimeLimit:
    """Until when the person may be held for a sample under a decision (inclusive), and why."""

    kind: str
    until: datetime
    rule_ids: tuple[str, ...]
    reason: str


def time_limit(
    decision: TestDecision, *, arrested_at: datetime, booked_in_at: datetime, charged_at: datetime | None
) -> TimeLimit | None:
    """T10 (and T9): the limit that applies to a sample taken under ``decision``; None when no test may be taken.
    After charge: 6 hours from charge. Before charge, and for a test on arrest carried over (T9): 24 hours after
    the relevant time."""
    if not decision.may_test:
        return None
    start = relevant_time(arrested_at, booked_in_at)
    if "T9" in decision.rule_ids:
        return TimeLimit(
            HOLD_PRE_CHARGE, start + CARRY_OVER, ("T9", "T10"), "24 hours from the start of detention (T9)"
        )
    if decision.stage is Stage.charge and charged_at is not None:
        return TimeLimit(
            HOLD_AFTER_CHARGE, charged_at + AFTER_CHARGE, ("T10",), "6 hours from charge (PACE s.38)"
        )
    return TimeLimit(
        HOLD_PRE_CHARGE, start + PRE_CHARGE_BAIL, ("T10",), "24 hours after the relevant time (PACE s.37(8A))"
    )


def pending_hold_deadlines(limit: TimeLimit | None, *, still_open: bool) -> dict[str, datetime | None]:
    """Which hold-for-sample timers should be pending now; None means cancel it. Nothing is pending once a sample
    was taken, refused, the person released, or the window closed, or while no test may be taken."""
    pending: dict[str, datetime | None] = {HOLD_PRE_CHARGE: None, HOLD_AFTER_CHARGE: None}
    if still_open and limit is not None:
        pending[limit.kind] = limit.until
    return pending


def hold_timer_changes(
    already_set: Mapping[str, datetime] | None, pending: Mapping[str, datetime | None]
) -> dict[str, datetime | None]:
    """The writes that make the hold timers ``pending``: each timer to set (at its time) or cancel (None), leaving
    out those already so. ``already_set`` are the timers the detention set and has not seen fire or cancelled;
    None when that is not known (a detention recorded before it was kept), and then every timer is written."""
    if already_set is None:
        return dict(pending)
    return {kind: due for kind, due in pending.items() if already_set.get(kind) != due}


def end_of_london_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=LONDON)


def confirmation_due(dispatched_at: datetime, working_days: int) -> datetime:
    """T12: a confirmatory result is due within ``working_days`` England & Wales working days of the dispatch
    (the dispatch day not counted); it is overdue from the start of the next day."""
    day = dispatched_at.astimezone(LONDON).date()
    return end_of_london_day(add_working_days(day, working_days))

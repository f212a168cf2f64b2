"""T9/T10 time limits for holding a person for a sample."""

from __future__ import annotations

from datetime import datetime, timedelta

AFTER_CHARGE = timedelta(hours=6)  # PACE s.38: at most 6 hours from charge
PRE_CHARGE_BAIL = timedelta(hours=24)  # s.37(8A): at most 24 hours after the relevant time
CARRY_OVER = timedelta(hours=24)  # T9: within 24 hours of the start of detention for the trigger offence


def hold_after_charge_until(charged_at: datetime) -> datetime:
    return charged_at + AFTER_CHARGE


def hold_before_bail_until(relevant_time: datetime) -> datetime:
    return relevant_time + PRE_CHARGE_BAIL


def carry_over_until(detention_started_at: datetime) -> datetime:
    return detention_started_at + CARRY_OVER


HOLD_AFTER_CHARGE = "hold_after_charge"  # T10, s.38
HOLD_PRE_CHARGE = "hold_pre_charge"  # T10 s.37(8A) and T9 carry-over: 24 h from the start of detention


def pending_hold_deadlines(
    *,
    booked_in_at: datetime,
    charged_at: datetime | None,
    may_test: bool,
    still_open: bool,
) -> dict[str, datetime | None]:
    """Which hold-for-sample deadlines should be pending now; None means cancel it.

    Before charge the person may be held for a sample until 24 hours from the start of detention (T9, T10
    s.37(8A)); after charge for 6 hours from charge (T10 s.38). Nothing is pending once a sample was taken,
    refused, the person released, or the window already closed, or while no test may be taken."""
    live = still_open and may_test
    return {
        HOLD_PRE_CHARGE: carry_over_until(booked_in_at) if live and charged_at is None else None,
        HOLD_AFTER_CHARGE: hold_after_charge_until(charged_at) if live and charged_at is not None else None,
    }

"""P1: periods on the register, never overwritten; as-of questions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow_ppo_register.domain.register import (
    Period,
    RegisterRuleBroken,
    Strand,
    check_add,
    check_remove,
    on_register,
)

CC = Strand.catch_and_convict


def period(start: date, end: date | None = None, borough: str = "camden", strand: Strand = CC) -> Period:
    return Period("P1", borough, strand, start, end, "panel", "coordinator")


def test_adding_twice_is_refused_but_a_move_ends_the_open_period() -> None:
    history = [period(date(2008, 1, 7))]
    with pytest.raises(RegisterRuleBroken):
        check_add(history, "camden", CC, date(2008, 3, 1))
    assert check_add(history, "camden", Strand.rehabilitate_and_resettle, date(2008, 3, 1)) == history[0]
    assert check_add(history, "brent", CC, date(2008, 3, 1)) == history[0]
    with pytest.raises(RegisterRuleBroken):
        check_add(history, "brent", CC, date(2008, 1, 7))


def test_a_new_period_starts_after_the_last_one_ended() -> None:
    history = [period(date(2007, 1, 1), date(2007, 12, 31))]
    with pytest.raises(RegisterRuleBroken):
        check_add(history, "camden", CC, date(2007, 12, 31))
    assert check_add(history, "camden", CC, date(2008, 1, 1)) is None


def test_removal_needs_an_open_period_and_a_sane_date() -> None:
    with pytest.raises(RegisterRuleBroken):
        check_remove([], date(2008, 1, 1))
    with pytest.raises(RegisterRuleBroken):
        check_remove([period(date(2008, 2, 1))], date(2008, 1, 1))
    assert check_remove([period(date(2008, 2, 1))], date(2008, 2, 1)).start_date == date(2008, 2, 1)


@given(st.dates(min_value=date(2006, 1, 1), max_value=date(2010, 12, 31)))
def test_who_was_a_ppo_in_camden_on_a_day(day: date) -> None:
    periods = [
        period(date(2007, 1, 1), date(2008, 2, 29)),
        period(date(2008, 3, 1), None, borough="brent"),
    ]
    camden = on_register(periods, day, "camden")
    assert bool(camden) == (date(2007, 1, 1) <= day <= date(2008, 2, 29))
    assert len(on_register(periods, day)) == (1 if day >= date(2007, 1, 1) else 0)
    assert on_register(periods, day - timedelta(days=0), "brent") == (
        [periods[1]] if day >= date(2008, 3, 1) else []
    )

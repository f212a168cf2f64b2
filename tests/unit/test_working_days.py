"""Working days (D4, A3) and the Bail Act's 24 hours without Sundays, Christmas Day and Good Friday (B4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dipflow.working_days import (
    LONDON,
    add_working_days,
    before_justice_by,
    is_excluded_from_bail_hours,
    is_working_day,
)


def test_bank_holidays_and_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2008, 3, 21))  # Good Friday
    assert not is_working_day(date(2008, 3, 24))  # Easter Monday
    assert not is_working_day(date(2008, 3, 22))  # Saturday
    assert is_working_day(date(2008, 3, 25))
    assert add_working_days(date(2008, 3, 20), 1) == date(2008, 3, 25)
    assert add_working_days(date(2008, 12, 24), 1) == date(2008, 12, 29)


def test_b4_twenty_four_hours_skip_sunday() -> None:
    saturday = datetime(2008, 6, 7, 10, tzinfo=UTC)
    assert before_justice_by(saturday) == datetime(2008, 6, 9, 10, tzinfo=UTC)


def test_b4_good_friday_and_christmas_day_do_not_count_but_boxing_day_does() -> None:
    assert before_justice_by(datetime(2008, 3, 20, 10, tzinfo=UTC)) == datetime(2008, 3, 22, 10, tzinfo=UTC)
    christmas_eve = datetime(2008, 12, 24, 18, tzinfo=UTC)
    assert before_justice_by(christmas_eve) == datetime(2008, 12, 26, 18, tzinfo=UTC)


def test_b4_across_the_clocks_going_forward_counts_real_hours() -> None:
    # Saturday 29 March 2008 12:00 GMT; Sunday 30 March (clocks change) does not count
    start = datetime(2008, 3, 29, 12, tzinfo=UTC)
    # 12 h to Saturday midnight, Sunday skipped, 12 h into Monday (BST): Monday 12:00 London = 11:00 UTC
    assert before_justice_by(start) == datetime(2008, 3, 31, 11, tzinfo=UTC)


@given(st.datetimes(datetime(2005, 1, 1), datetime(2030, 12, 31)).map(lambda d: d.replace(tzinfo=UTC)))
def test_b4_the_counted_time_is_exactly_twenty_four_hours(arrested: datetime) -> None:
    deadline = before_justice_by(arrested)
    counted = timedelta()
    step = timedelta(minutes=30)
    t = arrested
    while t < deadline:
        nxt = min(t + step, deadline)
        # the half-hour pieces never straddle a London midnight when the arrest is on the half hour; check by midpoint
        if not is_excluded_from_bail_hours((t + (nxt - t) / 2).astimezone(LONDON).date()):
            counted += nxt - t
        t = nxt
    assert abs(counted - timedelta(hours=24)) <= timedelta(minutes=30)
    assert deadline - arrested >= timedelta(hours=24)


@given(st.dates(date(2005, 1, 1), date(2030, 12, 31)), st.integers(0, 30))
def test_adding_working_days_lands_on_a_working_day_with_n_working_days_in_between(
    start: date, n: int
) -> None:
    end = add_working_days(start, n)
    between = sum(1 for k in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=k)))
    assert between == n
    assert n == 0 or is_working_day(end)

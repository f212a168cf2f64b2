"""Reporting periods (K returns): months, financial-year quarters and financial years, at their edges."""

from __future__ import annotations

from datetime import date

import pytest

from dipflow.periods import Granularity, NotAPeriod, bounds, granularity_of, months_in, period_of

Q, FY, M = Granularity.quarter, Granularity.financial_year, Granularity.month


@pytest.mark.parametrize(
    ("day", "month", "quarter", "year"),
    [
        (date(2008, 3, 31), "2008-03", "2007/08 Q4", "2007/08"),  # the last day of a financial year
        (date(2008, 4, 1), "2008-04", "2008/09 Q1", "2008/09"),  # the first day of the next
        (date(2008, 6, 30), "2008-06", "2008/09 Q1", "2008/09"),
        (date(2008, 7, 1), "2008-07", "2008/09 Q2", "2008/09"),
        (date(2008, 9, 30), "2008-09", "2008/09 Q2", "2008/09"),
        (date(2008, 12, 31), "2008-12", "2008/09 Q3", "2008/09"),
        (date(2009, 1, 1), "2009-01", "2008/09 Q4", "2008/09"),
        (date(1999, 12, 31), "1999-12", "1999/00 Q3", "1999/00"),  # across a century
        (date(2000, 2, 29), "2000-02", "1999/00 Q4", "1999/00"),
    ],
)
def test_a_day_belongs_to_one_month_quarter_and_financial_year(
    day: date, month: str, quarter: str, year: str
) -> None:
    assert (period_of(day, M), period_of(day, Q), period_of(day, FY)) == (month, quarter, year)
    for name in (month, quarter, year):
        first, last = bounds(name)
        assert first <= day <= last, name


def test_periods_have_their_bounds_and_lengths() -> None:
    assert bounds("2007/08") == (date(2007, 4, 1), date(2008, 3, 31))
    assert bounds("2007/08 Q1") == (date(2007, 4, 1), date(2007, 6, 30))
    assert bounds("2007/08 Q4") == (date(2008, 1, 1), date(2008, 3, 31))
    assert bounds("2008-02") == (date(2008, 2, 1), date(2008, 2, 29))
    assert [months_in(n) for n in ("2008-02", "2007/08 Q3", "2007/08")] == [1, 3, 12]
    assert [granularity_of(n) for n in ("2008-09", "2008/09", "2008/09 Q2")] == [M, FY, Q]


@pytest.mark.parametrize(
    "name", ["2008-13", "2008/10", "2008/09 Q5", "2008-9", "0000-01", "9999/00", "08/09"]
)
def test_a_name_that_is_no_period_is_refused_with_the_forms_that_are(name: str) -> None:
    with pytest.raises(NotAPeriod, match="2007/08 Q4"):
        bounds(name)


def test_the_same_period_a_year_before() -> None:
    from dipflow.periods import year_before

    assert [year_before(n) for n in ("2008/09 Q1", "2008/09", "2008-02", "2000/01 Q4")] == [
        "2007/08 Q1",
        "2007/08",
        "2007-02",
        "1999/00 Q4",
    ]


def test_whole_periods_reach_the_calendars_ends_without_failing() -> None:
    from dipflow.periods import whole_periods

    first, last = date(1, 1, 1), date(9999, 12, 31)
    assert whole_periods(first, last, Q) == (first, last)  # year 0 and year 10000 hold no financial year
    assert whole_periods(date(2008, 2, 14), date(2008, 4, 2), Q) == (date(2008, 1, 1), date(2008, 6, 30))

"""Reporting periods of the strategy's returns: calendar months, financial-year quarters and financial years
(1 April to 31 March), named the way returns name them and decided on London calendar days.

- month: ``2008-03``
- quarter: ``2007/08 Q4`` (Q1 April-June, Q2 July-September, Q3 October-December, Q4 January-March)
- financial year: ``2007/08`` (1 April 2007 to 31 March 2008)
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from enum import StrEnum


class Granularity(StrEnum):
    month = "month"
    quarter = "quarter"
    financial_year = "financial_year"


MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FINANCIAL_YEAR = re.compile(r"^(\d{4})/(\d{2})( Q([1-4]))?$")
PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])|/\d{2}( Q[1-4])?)$"
"""Any period's name (checked in full by ``bounds``)."""


class NotAPeriod(ValueError):
    """A name that is no month, financial-year quarter or financial year."""


def financial_year_starting(day: date) -> int:
    """The calendar year in which the financial year holding ``day`` began."""
    return day.year if day.month >= 4 else day.year - 1


def _fy_name(start_year: int) -> str:
    return f"{start_year:04d}/{(start_year + 1) % 100:02d}"


def period_of(day: date, granularity: Granularity) -> str:
    """The name of the period of ``granularity`` that holds ``day``."""
    if granularity is Granularity.month:
        return f"{day.year:04d}-{day.month:02d}"
    start = financial_year_starting(day)
    if granularity is Granularity.financial_year:
        return _fy_name(start)
    quarter = (day.month - 4) % 12 // 3 + 1
    return f"{_fy_name(start)} Q{quarter}"


def granularity_of(name: str) -> Granularity:
    if MONTH.match(name):
        return Granularity.month
    found = FINANCIAL_YEAR.match(name)
    if found and (int(found.group(1)) + 1) % 100 == int(found.group(2)):
        return Granularity.quarter if found.group(3) else Granularity.financial_year
    raise NotAPeriod(f"{name!r} is no month (2008-03), quarter (2007/08 Q4) or financial year (2007/08)")


def bounds(name: str) -> tuple[date, date]:
    """The first and last day of the period ``name``."""
    kind = granularity_of(name)
    start = int(name[:4])
    if start < 1 or (kind is not Granularity.month and start > 9998):
        raise NotAPeriod(
            f"{name!r} is outside the calendar: name a month (2008-03), quarter (2007/08 Q4) or "
            "financial year (2007/08) from year 1"
        )
    if kind is Granularity.month:
        month = int(name[5:7])
        return date(start, month, 1), date(start, month, calendar.monthrange(start, month)[1])
    if kind is Granularity.financial_year:
        return date(start, 4, 1), date(start + 1, 3, 31)
    quarter = int(name[-1])
    first_month = 4 + 3 * (quarter - 1)
    year = start + (first_month - 1) // 12
    month = (first_month - 1) % 12 + 1
    last_month = month + 2
    return date(year, month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])


def months_in(name: str) -> int:
    """How many calendar months the period spans (1, 3 or 12): a baseline of another length is taken pro rata."""
    return {Granularity.month: 1, Granularity.quarter: 3, Granularity.financial_year: 12}[
        granularity_of(name)
    ]


def year_before(name: str) -> str:
    """The same period a year earlier (the usual baseline of a return): 2008/09 Q1 -> 2007/08 Q1."""
    kind = granularity_of(name)
    first = bounds(name)[0]
    return period_of(first.replace(year=first.year - 1), kind)


def whole_periods(first: date, last: date, granularity: Granularity) -> tuple[date, date]:
    """From the first day of ``first``'s period to the last day of ``last``'s: a return counts whole periods
    (at the calendar's ends, where a financial year would begin in year 0 or end in year 10000, the day itself)."""
    try:
        start = bounds(period_of(first, granularity))[0]
    except NotAPeriod:
        start = first
    try:
        end = bounds(period_of(last, granularity))[1]
    except NotAPeriod:
        end = last
    return start, end


def period_of_month(month: str, granularity: Granularity) -> str:
    """The period holding the month ``YYYY-MM`` (months nest in quarters and financial years exactly)."""
    return period_of(date(int(month[:4]), int(month[5:7]), 1), granularity)

"""Calendar windows: "in the last 12 months" and months of the year."""

from __future__ import annotations

import calendar
from datetime import date


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's end (29 Feb 2008 → 28 Feb
    2007 for 12 months)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def within_months(when: date, on: date, months: int = 12) -> bool:
    """Whether ``when`` falls in the ``months`` months ending with ``on``: after the same day ``months``
    months earlier, and not after ``on``."""
    return months_before(on, months) < when <= on


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"

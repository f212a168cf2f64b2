"""Working days in England and Wales (weekends and bank holidays excluded, from the ``holidays`` package) and
the "24 hours not counting Sundays, Christmas Day and Good Friday" of the Bail Act (BA76 s.7(4), docs/rules.md B4).

Days are Europe/London calendar days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import holidays.countries  # see below

# The holidays package loads every country's calendar (some 250 modules) the first time any calendar is
# asked for: about a second of CPU, several on a busy machine. Loaded here, when a service starts, rather
# than on the event loop of the first request that counts working days (it stalled that service's requests
# for 1-2 s, and made it shed load at 30 requests/s on a fresh system).

LONDON = ZoneInfo("Europe/London")


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


@cache
def _good_friday(year: int) -> date:
    return next(
        d
        for d, name in holidays.country_holidays("GB", subdiv="ENG", years=year).items()
        if name == "Good Friday"
    )


def london_today() -> date:
    """Today in England and Wales (a server's clock may be on UTC)."""
    return datetime.now(LONDON).date()


def london_day(at: datetime) -> date:
    """The England and Wales calendar day of an instant."""
    return at.astimezone(LONDON).date()


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def add_working_days(day: date, n: int) -> date:
    """The working day ``n`` working days after ``day`` (``day`` itself is not counted)."""
    current = day
    counted = 0
    while counted < n:
        current += timedelta(days=1)
        if is_working_day(current):
            counted += 1
    return current


def next_working_day(day: date) -> date:
    """``day`` if it is a working day, else the next one."""
    current = day
    while not is_working_day(current):
        current += timedelta(days=1)
    return current


def is_excluded_from_bail_hours(day: date) -> bool:
    """BA76 s.7(4): Sundays, Christmas Day and Good Friday do not count."""
    return day.weekday() == 6 or (day.month, day.day) == (12, 25) or day == _good_friday(day.year)


def before_justice_by(arrested_at: datetime, hours: int = 24) -> datetime:
    """When a person arrested under BA76 s.7(3) must be before a justice at the latest: ``hours`` hours after
    the arrest, not counting time on a Sunday, Christmas Day or Good Friday (London days)."""
    remaining = timedelta(hours=hours)
    current = arrested_at.astimezone(UTC)  # arithmetic in UTC: London days may be 23 or 25 hours long
    while True:
        day = current.astimezone(LONDON).date()
        midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=LONDON).astimezone(UTC)
        if is_excluded_from_bail_hours(day):
            current = midnight
            continue
        available = midnight - current
        if remaining <= available:
            return (current + remaining).astimezone(arrested_at.tzinfo)
        remaining -= available
        current = midnight

from __future__ import annotations

from datetime import date


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on ``day``. Someone born on 29 February turns a year older on 1 March in common
    years (the birthday has not yet come on 28 February)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years

"""What is left of a detention once its person is pseudonymised (retention, erasure): the facts the measures
and the rules need (ages, offences, results, times), without the person."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dipflow_custody.domain.age import age_on

ERASED_NAME = "[erased]"


def same_age_birth_date(date_of_birth: date, on: date) -> date:
    """A date of birth that gives the same age on ``on`` and says nothing more: ``on`` itself, that many years
    earlier (28 February for 29 February in a common year)."""
    years = age_on(date_of_birth, on)
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return on.replace(year=on.year - years, day=28)


def pseudonymised_state(state: dict[str, Any], alias: str) -> dict[str, Any]:
    """The stored detention with the person replaced by ``alias``, the date of birth generalised to the age on
    arrest, and declared medication (health data, free text) removed."""
    arrested_on = datetime.fromisoformat(state["arrested_at"]).date()
    birth = same_age_birth_date(date.fromisoformat(state["date_of_birth"]), arrested_on)
    results = {k: {**r, "medication_declared": None} for k, r in state.get("results", {}).items()}
    return {**state, "person_id": alias, "date_of_birth": birth.isoformat(), "results": results}


def has_positive_result(state: dict[str, Any]) -> bool:
    return any(r.get("value") == "positive" for r in state.get("results", {}).values())

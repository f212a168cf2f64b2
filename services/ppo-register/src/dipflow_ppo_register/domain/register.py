"""The PPO register (docs/rules.md P1): periods on the register with borough, strand, dates, who and why.

Nothing is overwritten: adding starts a period, removing ends it, and a change of borough or strand ends the
current period on the day before the new one starts, so that on any day a person is in at most one period. "Who was a PPO in Camden on 1 March 2008" is a question
about periods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dipflow.errors import RuleViolation


class Strand(StrEnum):
    prevent_and_deter = "prevent_and_deter"
    catch_and_convict = "catch_and_convict"
    rehabilitate_and_resettle = "rehabilitate_and_resettle"


class RegisterRuleBroken(RuleViolation):
    """A change the register's rules refuse; ``field`` names the input at fault (an import row's column)."""

    def __init__(self, rule_id: str, reason: str, field: str = "start_date") -> None:
        super().__init__(rule_id, reason)
        self.field = field


@dataclass(frozen=True)
class Period:
    person_id: str
    borough: str
    strand: Strand
    start_date: date
    end_date: date | None
    reason: str
    added_by: str
    end_reason: str | None = None
    ended_by: str | None = None

    def covers(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


def open_period(periods: Iterable[Period]) -> Period | None:
    return next((p for p in periods if p.end_date is None), None)


def check_add(history: list[Period], borough: str, strand: Strand, start: date) -> Period | None:
    """May the person be put on the register from ``start``? Returns the open period that must end first
    (a change of borough or strand), or None. Raises when the request cannot be right."""
    current = open_period(history)
    if current is None:
        last_end = max((p.end_date for p in history if p.end_date is not None), default=None)
        if last_end is not None and start <= last_end:
            raise RegisterRuleBroken(
                "P1", f"a new period must start after the last one ended ({last_end:%d %b %Y})"
            )
        return None
    if (current.borough, current.strand) == (borough, strand):
        raise RegisterRuleBroken(
            "P1", f"already on the register in {borough} ({strand}) since {current.start_date:%d %b %Y}"
        )
    if start <= current.start_date:
        raise RegisterRuleBroken(
            "P1", f"the change must start after the current period began ({current.start_date:%d %b %Y})"
        )
    return current


def check_remove(history: list[Period], end: date) -> Period:
    current = open_period(history)
    if current is None:
        raise RegisterRuleBroken("P1", "the person is not on the register", "person_id")
    if end < current.start_date:
        raise RegisterRuleBroken(
            "P1", f"the end date is before the period began ({current.start_date:%d %b %Y})", "end_date"
        )
    return current


def on_register(periods: Iterable[Period], day: date, borough: str | None = None) -> list[Period]:
    """The periods in force on ``day`` (in ``borough`` if given)."""
    return [p for p in periods if p.covers(day) and (borough is None or p.borough == borough)]

"""Drug Rehabilitation Requirement enforcement (docs/rules.md D1-D4), pure.

- D1: only a failure without reasonable excuse counts (an unacceptable absence, refusing a sample). An
  acceptable absence is recorded but is not a failure; nor is a positive test on its own.
- D2: the first unacceptable failure brings a formal warning, unless a warning was given in the previous 12
  months. The responsible officer may go straight to breach instead.
- D3: a further unacceptable failure within the 12 months beginning with the date of the warning means breach
  proceedings; outside that window, a new warning.
- D4: enforcement action within 10 working days of the breaching failure; first hearing within 20.

An :class:`Order` judges each compliance record on it: a record outside the order's period is refused (D1).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from dipflow.errors import RuleViolation
from dipflow.working_days import add_working_days

ENFORCEMENT_WORKING_DAYS = 10
HEARING_WORKING_DAYS = 20


class ComplianceKind(StrEnum):
    appointment_kept = "appointment_kept"
    acceptable_absence = "acceptable_absence"
    unacceptable_absence = "unacceptable_absence"
    sample_refused = "sample_refused"
    test_result = "test_result"


class Decision(StrEnum):
    recorded = "recorded"  # not a failure (D1)
    warning = "warning"  # D2
    breach = "breach"  # D3 (or straight to breach, D2)
    added_to_breach = "added_to_breach"  # a further failure while proceedings are open


FAILURES = frozenset({ComplianceKind.unacceptable_absence, ComplianceKind.sample_refused})


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    rule_ids: tuple[str, ...]
    reason: str
    enforcement_due: date | None = None
    hearing_due: date | None = None
    warning_text: str | None = None
    """D2: the formal warning as given to the offender."""


FAILURE_WORDS = {
    ComplianceKind.unacceptable_absence: "you were absent from an appointment without an acceptable reason",
    ComplianceKind.sample_refused: "you refused to give a sample for testing",
}


def warning_text(kind: ComplianceKind, failure_on: date, warned_on: date, detail: str | None = None) -> str:
    """D2: a formal warning describes the failure, says it is unacceptable, and says that a further failure within
    the 12 months beginning with the date of the warning means a return to court."""
    last_day = twelve_months_end(warned_on) - timedelta(days=1)
    what = FAILURE_WORDS.get(kind, kind.replace("_", " "))
    said = f" ({detail.strip()})" if detail and detail.strip() else ""
    return (
        "Formal warning (Criminal Justice Act 2003, Schedule 8, paragraph 5).\n"
        f"On {failure_on:%d %B %Y} you failed without reasonable excuse to comply with the drug rehabilitation "
        f"requirement of your order: {what}{said}.\n"
        "This failure is unacceptable.\n"
        f"If you fail again without reasonable excuse within the 12 months beginning with {warned_on:%d %B %Y}, "
        f"the date of this warning (that is, on or before {last_day:%d %B %Y}), you will be returned to court "
        "for breach proceedings."
    )


def same_day_months_later(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def twelve_months_end(warning_on: date) -> date:
    """The first day after the 12 months beginning with ``warning_on``: the same date a year later; for 29
    February, 1 March (the period runs to the last day of February, the corresponding-date rule)."""
    if (warning_on.month, warning_on.day) == (2, 29):
        return date(warning_on.year + 1, 3, 1)
    return same_day_months_later(warning_on, 12)


def within_twelve_months_beginning(warning_on: date, day: date) -> bool:
    """D3: the 12 months beginning with the warning date run to the day before the same date a year later."""
    return warning_on <= day < twelve_months_end(warning_on)


def is_failure(kind: ComplianceKind) -> bool:
    """D1: unacceptable absences and refused samples; acceptable absences and test results are not."""
    return kind in FAILURES


def timescales(failure_on: date) -> tuple[date, date]:
    """D4: (enforcement action due, first hearing due), in England & Wales working days."""
    return (
        add_working_days(failure_on, ENFORCEMENT_WORKING_DAYS),
        add_working_days(failure_on, HEARING_WORKING_DAYS),
    )


def issue_warning_or_breach(
    kind: ComplianceKind,
    on: date,
    *,
    warnings: Iterable[date],
    breach_open: bool = False,
    straight_to_breach: bool = False,
    detail: str | None = None,
) -> Outcome:
    """The enforcement outcome of one compliance record, given the warnings already given on the order."""
    if not is_failure(kind):
        what = (
            "an acceptable absence"
            if kind is ComplianceKind.acceptable_absence
            else f"{kind.replace('_', ' ')}"
        )
        return Outcome(Decision.recorded, ("D1",), f"{what} is recorded but is not a failure to comply")
    if breach_open:
        return Outcome(
            Decision.added_to_breach, ("D1", "D3"), "a further failure while breach proceedings are open"
        )
    enforcement, hearing = timescales(on)
    if straight_to_breach:
        return Outcome(
            Decision.breach,
            ("D1", "D2", "D4"),
            "the responsible officer went straight to breach instead of a warning",
            enforcement,
            hearing,
        )
    earlier = [w for w in warnings if w <= on]
    current = max(earlier, default=None)
    if current is not None and within_twelve_months_beginning(current, on):
        return Outcome(
            Decision.breach,
            ("D1", "D3", "D4"),
            f"a further failure within the 12 months beginning with the warning of {current:%d %b %Y}",
            enforcement,
            hearing,
        )
    if current is not None:
        reason = f"the warning of {current:%d %b %Y} is more than 12 months before: a new warning"
    else:
        reason = "a first unacceptable failure: a formal warning"
    return Outcome(Decision.warning, ("D1", "D2"), reason, warning_text=warning_text(kind, on, on, detail))


@dataclass(frozen=True)
class FormalWarning:
    """D2: a warning as given on an order: the day, why, and its text."""

    issued_on: date
    reason: str
    text: str | None


@dataclass(frozen=True)
class ComplianceEntry:
    """One compliance record on an order with the outcome it was given (D1-D3)."""

    record_id: str
    kind: str
    on_date: date
    reason: str | None
    result: str | None
    decision: str
    rule_ids: list[str]
    explanation: str


@dataclass
class Order:
    """A DRR order as the court made it; the compliance records on it are judged within its period (D1)."""

    order_id: str
    person_id: str
    area: str
    court: str
    start_date: date
    treatment_months: int
    responsible_officer: str
    review_schedule: str | None = None
    high_risk: bool = False
    """D5: the responsible officer flagged the offender high-risk: a breach is fast-tracked."""
    ended_on: date | None = None
    end_reason: str | None = None
    created_at: datetime | None = None

    def in_period(self, day: date) -> bool:
        """D1: from the order's start to the day it ended (to now while it runs)."""
        return self.start_date <= day and (self.ended_on is None or day <= self.ended_on)

    def decide_compliance(
        self,
        kind: ComplianceKind,
        on: date,
        *,
        warnings: Iterable[date],
        breach_open: bool,
        straight_to_breach: bool = False,
        detail: str | None = None,
    ) -> Outcome:
        """D1-D4 for a record on this order; a record outside the order's period is refused (D1)."""
        if not self.in_period(on):
            raise RuleViolation("D1", "the record falls outside the order's period")
        return issue_warning_or_breach(
            kind,
            on,
            warnings=warnings,
            breach_open=breach_open,
            straight_to_breach=straight_to_breach,
            detail=detail,
        )

    def end(self, on: date, reason: str) -> bool:
        """The order ended on ``on``; an order ends once (a repeat changes nothing). Whether it changed."""
        if self.ended_on is not None:
            return False
        self.ended_on, self.end_reason = on, reason
        return True

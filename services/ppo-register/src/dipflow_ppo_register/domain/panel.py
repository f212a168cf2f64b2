"""Referral to the PPO panel (docs/rules.md P3): a person, PPO or not, who repeatedly tests positive and does not
comply with required assessment is flagged for the panel with the evidence.

The flag is raised on the day when, within the 12 months ending that day, the person has at least
``positives_for_panel_flag`` positive tests and at least one failure without good cause to attend or remain
for a required assessment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dipflow_ppo_register.domain.positives import PositiveTest
from dipflow_ppo_register.domain.window import within_months


@dataclass(frozen=True)
class AssessmentFailure:
    person_id: str
    assessment_id: str
    occurred_on: date
    outcome: str  # failed_to_attend | failed_to_remain


@dataclass(frozen=True)
class PanelFlag:
    person_id: str
    raised_on: date
    positives: tuple[PositiveTest, ...]
    failures: tuple[AssessmentFailure, ...]
    rule_ids: tuple[str, ...] = ("P3",)

    @property
    def reason(self) -> str:
        return (
            f"{len(self.positives)} positive tests and {len(self.failures)} failed required assessment(s) in the "
            f"12 months to {self.raised_on:%d %b %Y}"
        )


def panel_flag(
    tests: Iterable[PositiveTest], failures: Iterable[AssessmentFailure], on: date, *, threshold: int
) -> PanelFlag | None:
    """The flag for one person as things stood on ``on``, or None when P3 is not met."""
    recent_tests = tuple(t for t in tests if within_months(t.sampled_on, on))
    recent_failures = tuple(f for f in failures if within_months(f.occurred_on, on))
    if len(recent_tests) < threshold or not recent_failures:
        return None
    person = recent_tests[0].person_id
    return PanelFlag(person, on, recent_tests, recent_failures)


def first_panel_flag(
    tests: Iterable[PositiveTest],
    failures: Iterable[AssessmentFailure],
    *,
    threshold: int,
    evidence_after: date | None = None,
) -> PanelFlag | None:
    """The earliest day on which P3 held, looking only at days with a positive test or a failure (the only
    days it can start to hold). Events from different topics arrive in no fixed order, so the whole history is
    considered each time. With ``evidence_after`` (the last review), the flag must rest on newer evidence."""
    all_tests = sorted(tests, key=lambda t: (t.sampled_on, t.detention_id))
    all_failures = sorted(failures, key=lambda f: (f.occurred_on, f.assessment_id))
    days = sorted({t.sampled_on for t in all_tests} | {f.occurred_on for f in all_failures})
    for day in days:
        flag = panel_flag(
            [t for t in all_tests if t.sampled_on <= day],
            [f for f in all_failures if f.occurred_on <= day],
            day,
            threshold=threshold,
        )
        if flag is None:
            continue
        newest = max([t.sampled_on for t in flag.positives] + [f.occurred_on for f in flag.failures])
        if evidence_after is None or newest > evidence_after:
            return flag
    return None


@dataclass(frozen=True)
class FlagRecord:
    """A flag as kept: raised with its evidence, and the panel's review once made."""

    id: int
    person_id: str
    borough: str
    raised_on: date
    reason: str
    rule_ids: list[str]
    evidence: dict[str, Any]
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_outcome: str | None
    review_note: str | None

"""Referral to the PPO panel (RULES.md P3): a person, PPO or not, who repeatedly tests positive and does not
comply with required assessment is flagged for the panel with the evidence.

The flag is raised on the day when, within the 12 months ending that day, the person has at least
``positives_for_panel_flag`` positive tests and at least one failure without good cause to attend or remain
for a required assessment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

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

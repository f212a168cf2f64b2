"""What each person in custody needs next, in the order the law puts it, for the suite's board: pure."""

from __future__ import annotations

from dataclasses import dataclass

from dipflow_custody.domain.detention import Detention
from dipflow_custody.domain.eligibility import Outcome, TestDecision


@dataclass(frozen=True)
class NextStep:
    """One thing still owed for a detainee: the action (the route's last segment), its rules, in words."""

    action: str
    rule_ids: tuple[str, ...]
    text: str


def next_steps(d: Detention, decision: TestDecision) -> list[NextStep]:
    """Nothing once released. Otherwise, in order: an inspector's decision (T3/T4) where one is needed and not
    given, an appropriate adult (T5) before the warning, the warning (T6), the sample within the time limit
    (T7, T10), the result (T12), RA1 to serve before release (A1), and an oral authorisation's written
    confirmation (T3)."""
    if d.released_at is not None:
        return []
    steps: list[NextStep] = []
    authorised = d.authorisation is not None
    if (
        decision.inspector_decision_requested or decision.outcome is Outcome.needs_authorisation
    ) and not authorised:
        steps.append(
            NextStep("inspector-decision", ("T3", "T4"), "an inspector decides whether a test is authorised")
        )
    if decision.may_test and d.awaiting_sample:
        if decision.appropriate_adult_required and d.adult_arrived_at is None:
            steps.append(NextStep("appropriate-adult", ("T5",), "an appropriate adult must be present"))
        elif d.warned_at is None:
            steps.append(NextStep("warning", ("T6",), "warn the person that refusing is an offence"))
        else:
            steps.append(NextStep("sample", ("T7", "T10"), "take the sample within the time limit"))
    if d.sample_taken_at is not None and not d.results:
        steps.append(NextStep("results", ("T12",), "record the result of the sample"))
    if d.ra1_to_serve:
        steps.append(
            NextStep("ra1", ("A1",), "serve RA1 to impose the required assessment before the release")
        )
    if d.authorisation is not None and d.authorisation.written_confirmation == "pending":
        steps.append(
            NextStep(
                "written-confirmation", ("T3",), "the inspector confirms the oral authorisation in writing"
            )
        )
    return steps

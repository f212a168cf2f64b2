"""B3/B4 on the bail case alone: the appointment under a condition to undergo assessment is set once, after the
court's decision; its attendance is recorded once, after its time; a failure without good cause is the breach."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dipflow.errors import RuleViolation
from dipflow_referral.domain.bail import BailCase, CourtOutcome
from dipflow_referral.domain.events import Outcome

DECIDED = date(2009, 6, 2)
AT = datetime(2009, 6, 3, 9, 30, tzinfo=UTC)


def conditioned(outcome: CourtOutcome = CourtOutcome.bail_with_assessment_condition) -> BailCase:
    case = BailCase("D1", "08/1X", "lambeth")
    case.record_outcome(outcome, "Camberwell Green", DECIDED)
    return case


def test_b3_only_a_condition_to_undergo_assessment_sets_an_appointment_once_and_not_before_the_decision() -> (
    None
):
    for outcome in (CourtOutcome.bail_without_condition, CourtOutcome.bail_refused):
        with pytest.raises(RuleViolation) as refused:
            conditioned(outcome).set_condition_appointment(AT, "DIP office", "W1")
        assert refused.value.rule_id == "B3"
    case = conditioned()
    with pytest.raises(RuleViolation):
        case.set_condition_appointment(datetime(2009, 6, 1, 22, 30, tzinfo=UTC), "DIP office", "W1")
    case.set_condition_appointment(datetime(2009, 6, 1, 22, 30, tzinfo=UTC) + timedelta(hours=1), "x", "W1")
    assert case.awaits_condition_attendance and case.condition_worker_id == "W1"  # 00:30 London (BST), 2 June
    with pytest.raises(RuleViolation) as again:
        case.set_condition_appointment(AT, "DIP office", "W2")
    assert again.value.rule_id == "B3" and case.condition_worker_id == "W1"


def test_b3_attended_complies_with_the_condition_and_is_recorded_once_after_its_time() -> None:
    case = conditioned()
    with pytest.raises(RuleViolation):  # no appointment yet
        case.record_condition_attendance(Outcome.attended, False, AT)
    case.set_condition_appointment(AT, "DIP office", "W1")
    with pytest.raises(RuleViolation):  # before its time: out of order
        case.record_condition_attendance(Outcome.attended, False, AT - timedelta(minutes=1))
    assert case.record_condition_attendance(Outcome.attended, False, AT) is None
    assert case.condition_complied is True and not case.awaits_condition_attendance
    assert case.breached_at is None
    with pytest.raises(RuleViolation) as again:
        case.record_condition_attendance(Outcome.failed_to_remain, False, AT + timedelta(hours=1))
    assert again.value.rule_id == "B3" and case.condition_attendance is Outcome.attended


@pytest.mark.parametrize("outcome", [Outcome.failed_to_attend, Outcome.failed_to_remain])
def test_b4_a_failure_without_good_cause_at_the_conditions_appointment_is_the_breach(
    outcome: Outcome,
) -> None:
    case = conditioned()
    case.set_condition_appointment(AT, "DIP office", "W1")
    later = AT + timedelta(hours=2)
    what = case.record_condition_attendance(outcome, False, later)
    assert what is not None and "without good cause" in what
    assert case.breached_at == later and case.breach_what == what and case.condition_complied is False
    assert case.awaits_arrest(later)


def test_b3_good_cause_is_recorded_and_is_no_breach() -> None:
    case = conditioned()
    case.set_condition_appointment(AT, "DIP office", "W1")
    assert case.record_condition_attendance(Outcome.failed_to_attend, True, AT + timedelta(hours=2)) is None
    assert case.breached_at is None and case.condition_good_cause is True and case.condition_complied is None


def test_b4_a_breach_already_recorded_by_hand_is_not_recorded_twice() -> None:
    case = conditioned()
    case.set_condition_appointment(AT, "DIP office", "W1")
    case.record_breach(AT + timedelta(hours=1), "did not attend (typed in)")
    assert case.record_condition_attendance(Outcome.failed_to_attend, False, AT + timedelta(hours=2)) is None
    assert case.breach_what == "did not attend (typed in)"

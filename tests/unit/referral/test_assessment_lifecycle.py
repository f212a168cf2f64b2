"""A1-A8 state changes (scenarios S16-S20) and B1-B3 decisions (S21-S22)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    Outcome,
    RequiredAssessment,
    RuleViolation,
    Status,
)
from dipflow_referral.domain.bail import BailFacts, Restriction, evaluate_restriction
from dipflow_referral.domain.events import AttendanceRecorded, FailureNotified, RequirementLapsed

T0 = datetime(2008, 6, 2, 12, tzinfo=UTC)
APPOINTMENT = datetime(2008, 6, 4, 9, 30, tzinfo=UTC)


def case(follow_up: bool = True) -> RequiredAssessment:
    a = RequiredAssessment("A1", "08/1X", "D1", "MET-BRIXTON", "lambeth", {"cocaine"}, T0, False, follow_up)
    a.initial = Appointment(APPOINTMENT, "DIP office", "W1")
    return a


def test_s16_impose_serves_ra1_with_the_follow_up_where_notified() -> None:
    a = case()
    step = a.impose(T0 + timedelta(minutes=10), "Brixton DIP office")
    assert step.notice == "RA1" and step.rule_ids == ("A1", "A2", "A3")
    assert a.status is Status.imposed and a.follow_up_imposed and a.initial is not None
    assert a.initial.place == "Brixton DIP office" and a.initial.worker_id == "W1"
    assert not case(follow_up=False).impose(T0, "x").follow_up_imposed


def test_s17_released_before_imposition_the_requirement_lapses_and_cannot_be_imposed() -> None:
    a = case()
    step = a.release(T0 + timedelta(hours=1))
    assert isinstance(step, RequirementLapsed) and a.status is Status.lapsed
    with pytest.raises(RuleViolation) as refused:
        a.impose(T0 + timedelta(hours=2), "x")
    assert refused.value.rule_id == "A1"


def test_s18_missing_the_initial_without_good_cause_notifies_police_and_ends_the_follow_up() -> None:
    a = case()
    a.impose(T0, "office")
    steps = a.record_attendance(
        Kind.initial, Outcome.failed_to_attend, False, APPOINTMENT + timedelta(hours=1)
    )
    assert [type(s) for s in steps] == [AttendanceRecorded, FailureNotified]
    failure = steps[1]
    assert isinstance(failure, FailureNotified)
    assert (
        failure.offence == "DA05 s.12(3)" and failure.follow_up_ended and failure.requirement_notice == "RA1"
    )
    assert steps[1].rule_ids == ("A4",) and a.status is Status.failed and not a.follow_up_imposed


def test_a4_failing_to_remain_is_an_offence_but_leaves_the_follow_up_to_be_set_or_ended() -> None:
    a = case()
    a.impose(T0, "office")
    steps = a.record_attendance(
        Kind.initial, Outcome.failed_to_remain, False, APPOINTMENT + timedelta(hours=1)
    )
    failure = steps[1]
    assert isinstance(failure, FailureNotified)
    assert failure.offence == "DA05 s.12(3)" and not failure.follow_up_ended
    assert failure.what == "failed without good cause to remain for the whole of the initial assessment"
    assert a.follow_up_imposed and a.status is Status.initial_attended
    assert a.requirement_states() == ("failed", "in_force")
    ra4 = a.decide_follow_up(APPOINTMENT, True, Appointment(APPOINTMENT + timedelta(days=7), "office", "W1"))
    assert ra4.notice == "RA4" and str(a.status) == "follow_up_set"
    ended = case()
    ended.impose(T0, "office")
    ended.record_attendance(Kind.initial, Outcome.failed_to_remain, False, APPOINTMENT)
    assert ended.decide_follow_up(APPOINTMENT, False, None).notice == "RA5"
    assert ended.requirement_states() == ("failed", "ended")


def test_a4_failing_to_attend_is_worded_as_such() -> None:
    a = case()
    a.impose(T0, "office")
    steps = a.record_attendance(Kind.initial, Outcome.failed_to_attend, False, APPOINTMENT)
    failure = steps[1]
    assert isinstance(failure, FailureNotified)
    assert failure.what == "failed without good cause to attend the initial assessment"
    assert a.requirement_states() == ("failed", "ended")


def test_a4_good_cause_is_no_offence_and_a_new_notice_may_be_issued() -> None:
    a = case()
    a.impose(T0, "office")
    steps = a.record_attendance(Kind.initial, Outcome.failed_to_attend, True, APPOINTMENT)
    assert (
        [type(s) for s in steps] == [AttendanceRecorded] and a.status is Status.imposed and a.needs_new_notice
    )
    change = a.change_appointment(Kind.initial, APPOINTMENT, APPOINTMENT + timedelta(days=2), "office")
    assert change.notice == "RA2" and not a.needs_new_notice


def test_s19_attends_initial_gets_ra4_then_misses_the_follow_up() -> None:
    a = case()
    a.impose(T0, "office")
    a.record_attendance(Kind.initial, Outcome.attended, False, APPOINTMENT)
    ra4 = a.decide_follow_up(APPOINTMENT, True, Appointment(APPOINTMENT + timedelta(days=7), "office", "W1"))
    assert ra4.notice == "RA4" and a.status is Status.follow_up_set
    steps = a.record_attendance(
        Kind.follow_up, Outcome.failed_to_remain, False, APPOINTMENT + timedelta(days=7)
    )
    failure = steps[1]
    assert isinstance(failure, FailureNotified)
    assert failure.offence == "DA05 s.14(3)" and failure.rule_ids == ("A5",)


def test_s20_the_assessor_ends_the_follow_up_with_ra5() -> None:
    a = case()
    a.impose(T0, "office")
    a.record_attendance(Kind.initial, Outcome.attended, False, APPOINTMENT)
    step = a.decide_follow_up(APPOINTMENT, False, None)
    assert step.notice == "RA5" and a.status is Status.completed and not a.follow_up_imposed


def test_a5_the_follow_up_is_decided_only_after_the_initial_assessment() -> None:
    a = case()
    a.impose(T0, "office")
    with pytest.raises(RuleViolation, match="A5"):
        a.decide_follow_up(T0, False, None)


def test_a6_a_negative_confirmation_of_every_drug_ends_both_and_drops_a_prosecution() -> None:
    a = case()
    a.positive_drugs.add("opiates")
    a.impose(T0, "office")
    a.record_attendance(Kind.initial, Outcome.failed_to_attend, False, APPOINTMENT)
    assert a.confirmed_negative("cocaine", T0) is None  # opiates still positive
    step = a.confirmed_negative("opiates", T0)
    assert (
        step is not None and step.rule_ids == ("A6",) and a.prosecution_dropped and a.status is Status.ended
    )


def test_a6_the_person_is_told_and_both_requirements_show_ended() -> None:
    a = case()
    a.impose(T0, "office")
    assert a.requirement_states() == ("in_force", "in_force")
    step = a.confirmed_negative("cocaine", T0 + timedelta(days=6))
    assert step is not None and step.notice == "A6" and not step.prosecution_dropped
    assert a.requirement_states() == ("ended", "ended")
    attended = case()
    attended.impose(T0, "office")
    attended.record_attendance(Kind.initial, Outcome.attended, False, APPOINTMENT)
    attended.confirmed_negative("cocaine", T0 + timedelta(days=6))
    assert attended.requirement_states() == ("met", "ended")


def test_a3_t12_the_dispatch_of_a_disputed_sample_moves_the_earliest_day() -> None:
    a = RequiredAssessment("A1", "08/1X", "D1", "MET-BRIXTON", "lambeth", {"cocaine"}, T0, True, True)
    a.initial = Appointment(APPOINTMENT + timedelta(days=6), "DIP office", "W1")  # Tue 10 Jun
    a.earliest_day = (T0 + timedelta(days=7)).date()  # 5 working days from the result (Mon 2 Jun): Mon 9 Jun
    assert not a.initial_too_early()
    a.sample_dispatched(T0 + timedelta(days=3), (T0 + timedelta(days=10)).date())  # sent Thu 5: Thu 12 Jun
    assert a.initial_too_early() and a.confirmation_clock_from == T0 + timedelta(days=3)


def test_a7_a_bail_condition_supersedes_open_requirements_only() -> None:
    a = case()
    a.impose(T0, "office")
    step = a.superseded_by_bail_condition(T0)
    assert step is not None and step.rule_ids == ("A7",) and a.status is Status.ended
    done = case()
    done.impose(T0, "office")
    done.record_attendance(Kind.initial, Outcome.failed_to_attend, False, APPOINTMENT)
    assert done.superseded_by_bail_condition(T0) is None and done.status is Status.failed  # still actionable


def facts(**kw: object) -> BailFacts:
    base: dict[str, object] = {
        "age": 30,
        "positive_drugs": frozenset({"cocaine"}),
        "charged_codes": frozenset({"TA1968-s1"}),
        "class_a_offence_codes": frozenset(),
        "substantial_grounds": True,
        "agreed_to_assessment": False,
        "area_notified": True,
        "home_area": "lambeth",
    }
    return BailFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_s21_refused_assessment_with_grounds_in_a_notified_area_restricts_bail() -> None:
    decision = evaluate_restriction(facts())
    assert decision.restriction is Restriction.applies and decision.rule_ids == ("B1", "B2")
    assert any("did not agree" in r for r in decision.reasons)


def test_s22_agreed_means_a_bail_condition() -> None:
    decision = evaluate_restriction(facts(agreed_to_assessment=True))
    assert decision.restriction is Restriction.condition and "B3" in decision.rule_ids


def test_s14_b1_each_missing_condition_is_a_reason_not_to_restrict() -> None:
    assert evaluate_restriction(facts(positive_drugs=frozenset())).restriction is Restriction.does_not_apply
    assert evaluate_restriction(facts(age=17)).restriction is Restriction.does_not_apply
    assert evaluate_restriction(facts(area_notified=False)).restriction is Restriction.does_not_apply
    no_grounds = evaluate_restriction(facts(substantial_grounds=False))
    assert (
        no_grounds.restriction is Restriction.does_not_apply
        and "no substantial grounds" in no_grounds.reasons[0]
    )
    possession = facts(
        substantial_grounds=False,
        charged_codes=frozenset({"MDA1971-s5(2)"}),
        class_a_offence_codes=frozenset({"MDA1971-s5(2)"}),
    )
    assert evaluate_restriction(possession).restriction is Restriction.applies
    assert evaluate_restriction(facts(agreed_to_assessment=None)).restriction is Restriction.pending
    assert evaluate_restriction(facts(substantial_grounds=None)).restriction is Restriction.pending


def test_a3_times_chosen_by_people_are_after_the_notice_on_a_working_day_and_respect_a_dispute() -> None:
    from datetime import date

    a = case()
    with pytest.raises(RuleViolation, match="after the notice"):
        a.impose(T0, "office", appointment_at=T0 - timedelta(hours=1))
    with pytest.raises(RuleViolation, match="not a working day"):
        a.impose(T0, "office", appointment_at=datetime(2008, 6, 7, 10, tzinfo=UTC))  # Saturday
    disputed = case()
    disputed.disputed, disputed.earliest_day = True, date(2008, 6, 9)
    with pytest.raises(RuleViolation, match="disputed"):
        disputed.impose(T0, "office", appointment_at=datetime(2008, 6, 5, 10, tzinfo=UTC))
    assert disputed.impose(T0, "office", appointment_at=datetime(2008, 6, 9, 10, tzinfo=UTC)).notice == "RA1"
    with pytest.raises(RuleViolation, match="A3"):
        disputed.change_appointment(Kind.initial, T0, datetime(2008, 6, 6, 10, tzinfo=UTC), "office")

"""The detention state machine: T5-T8, T11, T12 (S11, S12, S14, S15) and the 409 rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.detention import Detention, DrugResult, ReleaseKind, ResultValue, RuleViolation
from dipflow_custody.domain.notifications import NotificationKind as K
from dipflow_custody.domain.notifications import NotificationPeriod, notified_on

T0 = datetime(2008, 6, 1, 10, tzinfo=UTC)
SUITE = "MET-BRIXTON"
STATION = notified_on([NotificationPeriod(SUITE, k, date(2004, 1, 1)) for k in K], SUITE, T0.date())


def detention(age: int = 30) -> Detention:
    d = Detention(
        "D1", "PNC-1", date(1978 - (age - 30), 1, 1), "lambeth", SUITE, T0, T0 + timedelta(minutes=5)
    )
    d.add_offence(Offence("TA1968-s1", T0.date()), T0)
    return d


def sampled(age: int = 30) -> Detention:
    d = detention(age)
    if age < 18:
        d.appropriate_adult_arrived(T0 + timedelta(minutes=20))
    d.give_warning(T0 + timedelta(minutes=30))
    if age < 18:
        d.charge({"TA1968-s1"}, T0 + timedelta(minutes=40))
    d.take_sample(d.decide(STATION, STATION), T0 + timedelta(hours=1), "saliva")
    return d


def test_s12_a_second_sample_in_the_same_detention_is_refused_t8() -> None:
    d = sampled()
    d.add_offence(Offence("TA1968-s9", T0.date()), T0 + timedelta(hours=2), further_arrest=True)
    with pytest.raises(RuleViolation) as raised:
        d.take_sample(d.decide(STATION), T0 + timedelta(hours=3), "saliva")
    assert raised.value.rule_id == "T8"


def test_t7_no_sample_before_booking_in() -> None:
    d = detention()
    d.give_warning(T0)
    with pytest.raises(RuleViolation) as raised:
        d.take_sample(d.decide(STATION), T0 + timedelta(minutes=1), "saliva")
    assert raised.value.rule_id == "T7"


def test_t6_no_sample_without_the_warning() -> None:
    d = detention()
    with pytest.raises(RuleViolation) as raised:
        d.take_sample(d.decide(STATION), T0 + timedelta(hours=1), "saliva")
    assert raised.value.rule_id == "T6"


def test_t5_juvenile_needs_an_appropriate_adult_for_the_warning() -> None:
    d = detention(age=16)
    with pytest.raises(RuleViolation) as raised:
        d.give_warning(T0 + timedelta(minutes=30))
    assert raised.value.rule_id == "T5"
    assert sampled(age=16).sample_taken_at is not None


def test_no_sample_when_the_decision_does_not_allow_one() -> None:
    d = Detention("D2", "PNC-2", date(1978, 1, 1), "lambeth", SUITE, T0, T0)
    d.add_offence(Offence("CJA1988-s39", T0.date()), T0)
    d.give_warning(T0)
    with pytest.raises(RuleViolation) as raised:
        d.take_sample(d.decide(STATION), T0 + timedelta(hours=1), "saliva")
    assert raised.value.rule_id == "T1"


def test_result_before_sample_is_refused() -> None:
    with pytest.raises(RuleViolation) as raised:
        detention().record_result(DrugResult("cocaine", ResultValue.positive), T0)
    assert raised.value.rule_id == "T12"


def test_t14_results_only_for_drugs_specified_on_the_sample_date() -> None:
    with pytest.raises(RuleViolation) as raised:
        sampled().record_result(DrugResult("mdma", ResultValue.positive), T0 + timedelta(hours=2))
    assert raised.value.rule_id == "T14"


def test_s14_negative_result_needs_no_confirmation() -> None:
    change = sampled().record_result(DrugResult("cocaine", ResultValue.negative), T0 + timedelta(hours=2))
    assert change.facts["result"] == "negative" and change.facts["confirmation_required"] is False


def test_s15_opiates_positive_with_methadone_accepting_heroin_use_needs_no_confirmation() -> None:
    result = DrugResult("opiates", ResultValue.positive, medication_declared="methadone", disputed=True,
                        accepts_heroin_use=True)  # fmt: skip
    assert not Detention.needs_confirmation(result)
    disputed = DrugResult("opiates", ResultValue.positive, medication_declared="methadone", disputed=True)
    assert Detention.needs_confirmation(disputed)
    change = sampled().record_result(result, T0 + timedelta(hours=2))
    assert change.facts["age"] == 30 and change.facts["home_area"] == "lambeth"


def test_s11_refusal_after_warning_without_good_cause_is_an_offence() -> None:
    d = detention()
    d.give_warning(T0 + timedelta(minutes=30))
    change = d.record_refusal(T0 + timedelta(minutes=35), good_cause=False)
    assert change.facts["offence"] is True


def test_refusal_without_a_warning_is_not_an_offence_and_cannot_be_recorded_as_one() -> None:
    d = detention()
    assert d.record_refusal(T0 + timedelta(minutes=35), good_cause=False).facts["offence"] is False
    with pytest.raises(RuleViolation) as raised:
        detention().record_refusal(T0, good_cause=False, as_offence=True)
    assert raised.value.rule_id == "T6"


def test_nothing_happens_after_release() -> None:
    d = detention()
    d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=4))
    with pytest.raises(RuleViolation):
        d.give_warning(T0 + timedelta(hours=5))


def test_charging_an_offence_not_recorded_is_refused() -> None:
    with pytest.raises(RuleViolation):
        detention().charge({"TA1968-s9"}, T0 + timedelta(hours=1))


def test_t10_a_passed_deadline_closes_the_sample_window_once() -> None:
    d = detention()
    change = d.close_sample_window("hold_after_charge", T0 + timedelta(hours=6))
    assert change is not None and change.facts["deadline"] == "hold_after_charge"
    assert d.close_sample_window("hold_after_charge", T0 + timedelta(hours=6)) is None
    d.give_warning(T0 + timedelta(hours=7))
    with pytest.raises(RuleViolation) as raised:
        d.take_sample(d.decide(STATION), T0 + timedelta(hours=7), "saliva")
    assert raised.value.rule_id == "T10"
    assert sampled().close_sample_window("hold_pre_charge", T0) is None  # a sample was taken: nothing passes


def test_pending_hold_deadlines_follow_the_stage() -> None:
    from dipflow_custody.domain.deadlines import HOLD_AFTER_CHARGE, HOLD_PRE_CHARGE, pending_hold_deadlines

    before = pending_hold_deadlines(booked_in_at=T0, charged_at=None, may_test=True, still_open=True)
    assert before == {HOLD_PRE_CHARGE: T0 + timedelta(hours=24), HOLD_AFTER_CHARGE: None}
    after = pending_hold_deadlines(
        booked_in_at=T0, charged_at=T0 + timedelta(hours=2), may_test=True, still_open=True
    )
    assert after == {HOLD_PRE_CHARGE: None, HOLD_AFTER_CHARGE: T0 + timedelta(hours=8)}
    assert set(
        pending_hold_deadlines(booked_in_at=T0, charged_at=None, may_test=False, still_open=True).values()
    ) == {None}
    assert set(
        pending_hold_deadlines(booked_in_at=T0, charged_at=None, may_test=True, still_open=False).values()
    ) == {None}


def test_t2_a_power_of_arrest_cannot_be_charged() -> None:
    d = detention()
    d.add_offence(Offence("BA1976-s7", T0.date()), T0)
    with pytest.raises(RuleViolation, match="powers of arrest"):
        d.charge({"BA1976-s7"}, T0 + timedelta(hours=1))
    assert d.charged_at is None

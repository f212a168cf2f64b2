"""The detention state machine: T3, T5-T12, T14 (S11, S12, S14, S15) and the 409 rules, judged on the times the
facts carry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dipflow.errors import RuleViolation
from dipflow.working_days import LONDON
from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.deadlines import HOLD_AFTER_CHARGE, HOLD_PRE_CHARGE, pending_hold_deadlines
from dipflow_custody.domain.detention import (
    Detention,
    Disposal,
    DrugResult,
    ReleaseKind,
    ResultValue,
    Stations,
)
from dipflow_custody.domain.drugs import UnknownDrug
from dipflow_custody.domain.eligibility import InspectorDecision
from dipflow_custody.domain.events import ResultRecorded, SampleTaken
from dipflow_custody.domain.notifications import NotificationKind as K
from dipflow_custody.domain.notifications import NotificationPeriod, notified_on

T0 = datetime(2008, 6, 1, 10, tzinfo=UTC)
BOOKED = T0 + timedelta(minutes=5)
SUITE = "MET-BRIXTON"
STATION = notified_on([NotificationPeriod(SUITE, k, date(2004, 1, 1)) for k in K], SUITE, T0.date())
STATIONS = Stations(STATION, STATION)
MINUTE = timedelta(minutes=1)


def detention(age: int = 30, at: datetime = T0, code: str = "TA1968-s1") -> Detention:
    d = Detention(
        "D1", "PNC-1", date(at.year - age - 1, 12, 1), "lambeth", SUITE, at, at + timedelta(minutes=5)
    )
    d.add_offence(Offence(code, at.date()), at + timedelta(minutes=5))
    return d


def sampled(age: int = 30, at: datetime = T0) -> Detention:
    d = detention(age, at)
    if age < 18:
        d.appropriate_adult_arrived(at + timedelta(minutes=20))
    d.give_warning(at + timedelta(minutes=30))
    if age < 18:
        d.charge({"TA1968-s1"}, at + timedelta(minutes=40))
    d.take_sample(STATIONS, at + timedelta(hours=1), "saliva")
    return d


def warned(d: Detention, at: datetime = BOOKED) -> Detention:
    d.give_warning(at)
    return d


def rule_of(call: object) -> str:
    with pytest.raises(RuleViolation) as raised:
        call()  # type: ignore[operator]
    return raised.value.rule_id


# -- T5-T8 ---------------------------------------------------------------------------------------------


def test_s12_a_second_sample_in_the_same_detention_is_refused_t8() -> None:
    d = sampled()
    d.add_offence(Offence("TA1968-s9", T0.date()), T0 + timedelta(hours=2), further_arrest=True)
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(hours=3), "saliva")) == "T8"


def test_t7_no_sample_before_booking_in() -> None:
    d = warned(detention(), T0)
    assert rule_of(lambda: d.take_sample(STATIONS, BOOKED - MINUTE, "saliva")) == "T7"
    assert isinstance(d.take_sample(STATIONS, BOOKED, "saliva"), SampleTaken)


def test_t6_no_sample_without_the_warning_given_before_it() -> None:
    d = detention()
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(hours=1), "saliva")) == "T6"
    d.give_warning(T0 + timedelta(hours=2))  # reported first, but given after the sample's time
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(hours=1), "saliva")) == "T6"


def test_t5_juvenile_needs_an_appropriate_adult_for_the_warning() -> None:
    d = detention(age=16)
    assert rule_of(lambda: d.give_warning(T0 + timedelta(minutes=30))) == "T5"
    assert sampled(age=16).sample_taken_at is not None


def test_no_sample_when_the_decision_does_not_allow_one() -> None:
    d = warned(detention(code="CJA1988-s39"))
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(hours=1), "saliva")) == "T1"


def test_nothing_happens_after_release_but_what_happened_before_it_may_be_reported_late() -> None:
    d = warned(detention())
    d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=4))
    assert rule_of(lambda: d.give_warning(T0 + timedelta(hours=5))) == "T8"
    taken = d.take_sample(STATIONS, T0 + timedelta(hours=3), "saliva")  # taken before the release
    assert taken.at == T0 + timedelta(hours=3)


def test_charging_an_offence_not_recorded_is_refused() -> None:
    assert rule_of(lambda: detention().charge({"TA1968-s9"}, T0 + timedelta(hours=1))) == "T2"


def test_t2_a_power_of_arrest_cannot_be_charged() -> None:
    d = detention()
    d.add_offence(Offence("BA1976-s7", T0.date()), T0)
    with pytest.raises(RuleViolation, match="powers of arrest"):
        d.charge({"BA1976-s7"}, T0 + timedelta(hours=1))
    assert d.charged_at is None


# -- T10, T9: judged on when the sample was taken ---------------------------------------------------------


def test_t10_before_charge_a_sample_is_lawful_until_24_hours_after_the_relevant_time() -> None:
    limit = BOOKED + timedelta(hours=24)
    assert warned(detention()).take_sample(STATIONS, limit, "saliva").time_limit == limit
    assert rule_of(lambda: warned(detention()).take_sample(STATIONS, limit + MINUTE, "saliva")) == "T10"
    assert isinstance(warned(detention()).take_sample(STATIONS, limit - MINUTE, "saliva"), SampleTaken)


def test_t10_the_relevant_time_is_at_most_24_hours_after_the_arrest() -> None:
    d = Detention("D1", "PNC-1", date(1970, 1, 1), "lambeth", SUITE, T0, T0 + timedelta(hours=30))
    d.add_offence(Offence("TA1968-s1", T0.date()), d.booked_in_at)
    d.give_warning(d.booked_in_at)
    limit = T0 + timedelta(hours=48)  # PACE s.41(2)(d): 24 h after arrest, then 24 h to hold
    assert rule_of(lambda: d.take_sample(STATIONS, limit + MINUTE, "saliva")) == "T10"
    assert isinstance(d.take_sample(STATIONS, limit, "saliva"), SampleTaken)


def test_t10_after_charge_a_sample_is_lawful_for_6_hours_from_charge() -> None:
    charged_at = T0 + timedelta(hours=2)

    def charged() -> Detention:
        d = warned(detention())
        d.charge({"TA1968-s1"}, charged_at)
        return d

    assert isinstance(charged().take_sample(STATIONS, charged_at + timedelta(hours=6), "urine"), SampleTaken)
    assert (
        rule_of(lambda: charged().take_sample(STATIONS, charged_at + timedelta(hours=6) + MINUTE, "urine"))
        == "T10"
    )


def test_t10_a_sample_taken_before_the_charge_and_reported_after_it_is_judged_on_arrest() -> None:
    d = warned(detention())
    d.charge({"TA1968-s1"}, T0 + timedelta(hours=1))
    late = d.take_sample(STATIONS, T0 + timedelta(minutes=50), "saliva")
    assert late.stage == "arrest"


def test_t10_a_sample_in_time_is_accepted_after_the_timer_closed_the_window() -> None:
    d = warned(detention())
    d.charge({"TA1968-s1"}, T0 + timedelta(hours=1))
    closed = d.close_sample_window(HOLD_AFTER_CHARGE, T0 + timedelta(hours=7))
    assert closed is not None and closed.deadline == HOLD_AFTER_CHARGE
    assert d.close_sample_window(HOLD_AFTER_CHARGE, T0 + timedelta(hours=7)) is None  # once
    assert isinstance(d.take_sample(STATIONS, T0 + timedelta(hours=6, minutes=59), "saliva"), SampleTaken)


def test_t10_a_sample_after_the_limit_is_refused_though_no_timer_fired() -> None:
    d = warned(detention())
    d.charge({"TA1968-s1"}, T0 + timedelta(hours=1))
    assert d.sample_window_closed is None
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(hours=7, minutes=1), "saliva")) == "T10"


def _theft_and_damage() -> Detention:
    d = detention()
    d.add_offence(Offence("CDA1971-s1", T0.date()), BOOKED)
    return warned(d)


def test_t9_released_for_theft_detained_for_criminal_damage_a_sample_is_lawful_within_24_hours() -> None:
    limit = BOOKED + timedelta(hours=24)

    def released_and_charged() -> Detention:
        d = _theft_and_damage()
        d.dispose_of_offence("TA1968-s1", Disposal.no_further_action, T0 + timedelta(hours=2))
        d.charge({"CDA1971-s1"}, T0 + timedelta(hours=3))
        return d

    taken = released_and_charged().take_sample(STATIONS, limit, "saliva")
    assert "T9" in taken.rule_ids and taken.time_limit == limit
    assert rule_of(lambda: released_and_charged().take_sample(STATIONS, limit + MINUTE, "saliva")) == "T10"
    not_released = _theft_and_damage()
    not_released.charge({"CDA1971-s1"}, T0 + timedelta(hours=3))
    assert rule_of(lambda: not_released.take_sample(STATIONS, T0 + timedelta(hours=4), "saliva")) == "T2"


def test_t9_a_release_for_an_offence_needs_another_offence_to_hold_the_person() -> None:
    d = _theft_and_damage()
    assert (
        rule_of(lambda: d.dispose_of_offence("TA1968-s9", Disposal.bailed, T0 + timedelta(hours=1))) == "T9"
    )
    change = d.dispose_of_offence("TA1968-s1", Disposal.bailed, T0 + timedelta(hours=1))
    assert (change.code, change.disposal, change.still_detained_for) == (
        "TA1968-s1",
        "bailed",
        ["CDA1971-s1"],
    )
    assert (
        rule_of(lambda: d.dispose_of_offence("CDA1971-s1", Disposal.charged, T0 + timedelta(hours=2))) == "T9"
    )


def test_pending_hold_deadlines_follow_the_time_limit() -> None:
    d = detention()
    before = pending_hold_deadlines(d.time_limit(d.decide(STATIONS)), still_open=True)
    assert before == {HOLD_PRE_CHARGE: BOOKED + timedelta(hours=24), HOLD_AFTER_CHARGE: None}
    d.charge({"TA1968-s1"}, T0 + timedelta(hours=2))
    after = pending_hold_deadlines(d.time_limit(d.decide(STATIONS)), still_open=True)
    assert after == {HOLD_PRE_CHARGE: None, HOLD_AFTER_CHARGE: T0 + timedelta(hours=8)}
    no_test = detention(code="CJA1988-s39")
    assert set(
        pending_hold_deadlines(no_test.time_limit(no_test.decide(STATIONS)), still_open=True).values()
    ) == {None}
    assert set(pending_hold_deadlines(d.time_limit(d.decide(STATIONS)), still_open=False).values()) == {None}


# -- T11 --------------------------------------------------------------------------------------------------


def test_s11_refusal_after_warning_without_good_cause_is_an_offence() -> None:
    d = warned(detention(), T0 + timedelta(minutes=30))
    assert d.record_refusal(STATIONS, T0 + timedelta(minutes=35), good_cause=False).offence is True


def test_refusal_without_a_warning_is_not_an_offence_and_cannot_be_recorded_as_one() -> None:
    assert detention().record_refusal(STATIONS, T0 + timedelta(minutes=35), good_cause=False).offence is False
    assert (
        rule_of(lambda: detention().record_refusal(STATIONS, T0, good_cause=False, as_offence=True)) == "T6"
    )


def test_t10_a_refusal_after_the_time_limit_is_not_an_offence() -> None:
    late = BOOKED + timedelta(hours=24) + MINUTE
    change = warned(detention()).record_refusal(STATIONS, late, good_cause=False)
    assert change.offence is False and "T10" in change.reason
    assert (
        rule_of(lambda: warned(detention()).record_refusal(STATIONS, late, good_cause=False, as_offence=True))
        == "T10"
    )


# -- T3 ---------------------------------------------------------------------------------------------------


def _authorised(oral: bool) -> Detention:
    d = detention(code="CDA1971-s1")
    d.record_inspector_decision(
        InspectorDecision.authorised,
        T0 + timedelta(hours=1),
        by="insp-7",
        rank="inspector",
        grounds="smelt of cocaine, admitted using",
        oral=oral,
    )
    return d


def test_t3_an_oral_authorisation_is_pending_until_its_maker_confirms_it_in_writing() -> None:
    d = _authorised(oral=True)
    assert d.authorisation is not None and d.authorisation.written_confirmation == "pending"
    assert rule_of(lambda: d.confirm_in_writing(T0 + timedelta(hours=2), "insp-9")) == "T3"
    d.confirm_in_writing(T0 + timedelta(hours=2), "insp-7")
    assert d.authorisation.written_confirmation == "confirmed"
    assert d.authorisation.written_confirmed_at == T0 + timedelta(hours=2)
    assert rule_of(lambda: d.confirm_in_writing(T0 + timedelta(hours=3), "insp-7")) == "T3"
    assert _authorised(oral=False).authorisation.written_confirmation == "not_needed"  # type: ignore[union-attr]


def test_t3_the_person_is_told_of_an_authorisation_once_and_not_before_it() -> None:
    d = _authorised(oral=False)
    assert rule_of(lambda: d.tell_person_of_authorisation(T0)) == "T3"
    d.tell_person_of_authorisation(T0 + timedelta(hours=1, minutes=5))
    assert d.authorisation is not None and d.authorisation.person_told_at == T0 + timedelta(
        hours=1, minutes=5
    )
    assert rule_of(lambda: d.tell_person_of_authorisation(T0 + timedelta(hours=2))) == "T3"


def test_t3_the_authorisation_counts_only_from_when_it_was_given() -> None:
    d = warned(_authorised(oral=True))
    assert rule_of(lambda: d.take_sample(STATIONS, T0 + timedelta(minutes=50), "saliva")) == "T1"
    assert isinstance(d.take_sample(STATIONS, T0 + timedelta(hours=1, minutes=10), "saliva"), SampleTaken)


# -- T12, T14 ---------------------------------------------------------------------------------------------


def test_result_before_sample_is_refused() -> None:
    assert (
        rule_of(lambda: detention().record_result(DrugResult("cocaine", ResultValue.positive), T0)) == "T12"
    )


@pytest.mark.parametrize(
    ("drug", "sample_day", "accepted"),
    [
        ("mdma", date(2023, 8, 1), False),
        ("mdma", date(2023, 8, 2), True),
        ("cannabis", date(2024, 1, 10), False),
        ("methamphetamine", date(2023, 8, 2), True),
        ("Crack", date(2008, 6, 1), True),
        ("morphine", date(2008, 6, 1), False),
    ],
)
def test_t14_a_result_counts_only_for_a_drug_specified_on_the_sample_day(
    drug: str, sample_day: date, accepted: bool
) -> None:
    d = sampled(at=datetime.combine(sample_day, datetime.min.time(), tzinfo=UTC).replace(hour=10))

    def record() -> ResultRecorded:
        return d.record_result(DrugResult(drug, ResultValue.positive), d.booked_in_at + timedelta(hours=2))

    if accepted:
        assert record().result == "positive"
    else:
        assert rule_of(record) == "T14"


def test_t14_results_are_named_from_the_vocabulary_and_unknown_drugs_are_refused() -> None:
    d = sampled()
    assert (
        d.record_result(DrugResult("Heroin", ResultValue.positive), T0 + timedelta(hours=2)).drug == "opiates"
    )
    with pytest.raises(UnknownDrug) as raised:
        d.record_result(DrugResult("unobtainium", ResultValue.positive), T0 + timedelta(hours=2))
    assert "cocaine" in raised.value.known


def test_s14_negative_result_needs_no_confirmation() -> None:
    change = sampled().record_result(DrugResult("cocaine", ResultValue.negative), T0 + timedelta(hours=2))
    assert change.result == "negative" and change.confirmation_required is False


@pytest.mark.parametrize(("sample_day", "needs"), [(date(2008, 9, 9), True), (date(2008, 9, 10), False)])
def test_s15_t12_the_medication_exemption_applies_from_10_september_2008(
    sample_day: date, needs: bool
) -> None:
    d = sampled(at=datetime(sample_day.year, sample_day.month, sample_day.day, 9, tzinfo=UTC))
    result = DrugResult("opiates", ResultValue.positive, "methadone", disputed=True, accepts_heroin_use=True)
    change = d.record_result(result, d.booked_in_at + timedelta(hours=2))
    assert change.confirmation_required is needs
    disputed = DrugResult("opiates", ResultValue.positive, medication_declared="methadone", disputed=True)
    assert Detention.needs_confirmation(disputed, date(2008, 9, 10))


def _disputed(at: datetime = T0) -> Detention:
    d = sampled(at=at)
    d.record_result(DrugResult("cocaine", ResultValue.positive, disputed=True), at + timedelta(hours=2))
    return d


@pytest.mark.parametrize(
    ("dispatched", "overdue_from"),
    [
        (datetime(2008, 9, 5, 15, tzinfo=UTC), datetime(2008, 9, 13, tzinfo=LONDON)),  # Fri -> 5 wd to Fri 12
        (datetime(2008, 8, 21, 15, tzinfo=UTC), datetime(2008, 8, 30, tzinfo=LONDON)),  # 25 Aug bank holiday
    ],
)
def test_t12_a_confirmatory_result_is_due_within_5_working_days_of_dispatch(
    dispatched: datetime, overdue_from: datetime
) -> None:
    d = _disputed(dispatched - timedelta(hours=4))
    change = d.dispatch_for_confirmation(dispatched, working_days=5)
    assert (change.drugs, change.confirmation_due_at) == (["cocaine"], overdue_from)
    overdue = d.confirmation_passed_due(overdue_from)
    assert overdue is not None and overdue.drugs == ["cocaine"]
    assert d.confirmation_passed_due(overdue_from) is None  # once


def test_t12_no_overdue_once_the_confirmation_is_in_and_nothing_to_dispatch_without_a_dispute() -> None:
    d = _disputed()
    d.dispatch_for_confirmation(T0 + timedelta(hours=3), working_days=5)
    d.record_confirmation("crack", ResultValue.negative, T0 + timedelta(days=2))
    assert d.confirmation_passed_due(T0 + timedelta(days=9)) is None
    assert (
        rule_of(lambda: sampled().dispatch_for_confirmation(T0 + timedelta(hours=3), working_days=5)) == "T12"
    )


def test_A1_a_release_with_RA1_to_serve_is_refused_unless_the_lapse_is_confirmed() -> None:
    d = sampled()
    assert d.requirement_proposed("a-1") and not d.requirement_proposed("a-1")
    release_at = T0 + timedelta(hours=3)
    assert rule_of(lambda: d.release(ReleaseKind.no_further_action, release_at)) == "A1"
    assert d.released_at is None and d.ra1_to_serve == {"a-1"}
    released = d.release(ReleaseKind.no_further_action, release_at, lapse_confirmed=True)
    assert released.requirements_lapsed == ("a-1",) and d.ra1_to_serve == set()
    assert not d.requirement_proposed("a-2")  # learnt after the release: referral lapses it itself


def test_A1_RA1_served_or_the_requirement_ended_leaves_nothing_to_serve_before_release() -> None:
    d = sampled()
    d.requirement_proposed("a-1")
    assert d.requirement_settled("a-1") and not d.requirement_settled("a-1")
    released = d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=3))
    assert released.requirements_lapsed == ()


def test_the_test_record_says_why_the_sample_was_asked_for_as_it_stood_then_not_the_later_t8() -> None:
    d = detention()
    assert d.decision_when_asked(STATIONS) is None  # nothing asked yet
    d = sampled()
    now = d.decide(STATIONS)
    asked = d.decision_when_asked(STATIONS)
    assert now.rule_ids == ("T8",)  # today: no further sample in this detention
    assert asked is not None and asked.may_test and "T1" in asked.rule_ids  # then: a trigger offence, tested
    # an offence added after the sample does not change why it was asked for
    d.add_offence(Offence("TA1968-s9", T0.date()), T0 + timedelta(hours=2), further_arrest=True)
    assert d.decision_when_asked(STATIONS) == asked


def test_t10_a_hold_timer_that_fired_is_not_cancelled_afterwards() -> None:
    d = detention()
    assert d.hold_timers_for(d.decide(STATIONS)) == {HOLD_PRE_CHARGE: BOOKED + timedelta(hours=24)}
    d.close_sample_window(HOLD_PRE_CHARGE, BOOKED + timedelta(hours=24))
    assert d.hold_timers == {}
    assert d.hold_timers_for(d.decide(STATIONS)) == {}

"""docs/rules.md T1-T8 through the pure eligibility engine, including the scenarios S01-S10 and S12."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.eligibility import (
    DetentionFacts,
    InspectorDecision,
    Outcome,
    Stage,
    decide_test,
)
from dipflow_custody.domain.notifications import NotificationKind as K
from dipflow_custody.domain.notifications import NotificationPeriod, notified_on

SUITE = "MET-BRIXTON"
ALL = (K.testing_on_arrest, K.testing_on_charge, K.under_18_testing)


def station(*kinds: K, on: date = date(2008, 6, 1)) -> object:
    return notified_on([NotificationPeriod(SUITE, k, date(2004, 1, 1)) for k in kinds], SUITE, on)


def facts(
    age: int,
    code: str = "TA1968-s1",
    *,
    kinds: tuple[K, ...] = ALL,
    arrested: datetime = datetime(2008, 6, 1, 10, tzinfo=UTC),
    charged: bool = False,
    **kw: object,
) -> DetentionFacts:
    dob = date(arrested.year - age, 1, 1) if arrested.month > 1 else date(arrested.year - age - 1, 1, 1)
    offence = Offence(
        code,
        arrested.date(),
        drug=kw.pop("drug", None),  # type: ignore[arg-type]
        drug_class=kw.pop("klass", None),  # type: ignore[arg-type]
        attempt=bool(kw.pop("attempt", False)),
    )
    notified = notified_on(
        [NotificationPeriod(SUITE, k, date(2000, 1, 1)) for k in kinds], SUITE, arrested.date()
    )
    return DetentionFacts(
        date_of_birth=dob,
        arrested_at=arrested,
        offences=(offence,),
        station_at_arrest=notified,
        charged_at=arrested + timedelta(hours=3) if charged else None,
        charged_codes=frozenset({code}) if charged else frozenset(),
        station_at_charge=notified if charged else None,
        **kw,  # type: ignore[arg-type]
    )


def test_s01_adult_theft_2008_at_a_notified_station_requires_a_test_on_arrest() -> None:
    decision = decide_test(facts(45))
    assert (decision.stage, decision.outcome) == (Stage.arrest, Outcome.required)
    assert "T1" in decision.rule_ids and "T6" in decision.reason
    assert decision.trigger_offences == ("TA1968-s1",)


def test_s02_seventeen_year_old_is_not_tested_on_arrest() -> None:
    decision = decide_test(facts(17, "TA1968-s9"))
    assert decision.outcome is Outcome.not_allowed and decision.rule_ids == ("T1",)
    assert "Aged 17" in decision.reason


def test_s03_seventeen_year_old_charged_at_an_under_18_station_is_tested_with_an_appropriate_adult() -> None:
    decision = decide_test(facts(17, "TA1968-s9", charged=True))
    assert (decision.stage, decision.outcome) == (Stage.charge, Outcome.required)
    assert decision.appropriate_adult_required and {"T2", "T5"} <= set(decision.rule_ids)


def test_under_18_on_charge_needs_the_under_18_notification() -> None:
    decision = decide_test(
        facts(16, "TA1968-s9", charged=True, kinds=(K.testing_on_arrest, K.testing_on_charge))
    )
    assert decision.outcome is Outcome.not_allowed and "under-18s" in decision.reason


def test_s04_thirteen_year_old_charged_with_robbery_is_not_tested() -> None:
    decision = decide_test(facts(13, "TA1968-s8", charged=True))
    assert decision.outcome is Outcome.not_allowed and decision.rule_ids == ("T2",)


def test_s05_station_notified_for_charge_only() -> None:
    kinds = (K.testing_on_charge,)
    assert decide_test(facts(30, kinds=kinds)).outcome is Outcome.not_allowed
    after = decide_test(facts(30, kinds=kinds, charged=True))
    assert (after.stage, after.outcome) == (Stage.charge, Outcome.required)


def test_s06_common_assault_without_authorisation_is_not_tested() -> None:
    decision = decide_test(facts(30, "CJA1988-s39"))
    assert decision.outcome is Outcome.needs_authorisation and not decision.may_test
    assert decision.rule_ids == ("T1", "T3")
    declined = decide_test(facts(30, "CJA1988-s39", inspector=InspectorDecision.declined))
    assert declined.outcome is Outcome.not_allowed


def test_s07_ppo_arrested_for_criminal_damage_goes_to_an_inspector() -> None:
    decision = decide_test(facts(30, "CDA1971-s1", is_ppo=True))
    assert decision.inspector_decision_requested and "T4" in decision.rule_ids
    assert not decision.may_test
    authorised = decide_test(facts(30, "CDA1971-s1", is_ppo=True, inspector=InspectorDecision.authorised))
    assert authorised.may_test and "T3" in authorised.rule_ids


def test_s08_heroin_possession_is_a_trigger() -> None:
    assert decide_test(facts(30, "MDA1971-s5(2)", drug="heroin", klass="A")).may_test


def test_s09_cannabis_possession_needs_authorisation() -> None:
    decision = decide_test(facts(30, "MDA1971-s5(2)", drug="cannabis", klass="B"))
    assert decision.outcome is Outcome.needs_authorisation


def test_s10_attempted_burglary_2008_is_a_trigger() -> None:
    assert decide_test(facts(30, "TA1968-s9", attempt=True)).may_test
    assert not decide_test(
        facts(30, "TA1968-s9", attempt=True, arrested=datetime(2004, 7, 26, tzinfo=UTC))
    ).may_test


def test_s12_no_second_sample_in_the_same_detention() -> None:
    decision = decide_test(facts(30, "TA1968-s9", sample_taken=True))
    assert decision.outcome is Outcome.not_allowed and decision.rule_ids == ("T8",)
    on_charge = decide_test(facts(30, "TA1968-s9", sample_taken=True, charged=True))
    assert on_charge.rule_ids == ("T8",) and "counts as the charge sample" in on_charge.reason


def test_charge_decision_looks_only_at_charged_offences() -> None:
    f = facts(30, "CJA1988-s39", charged=True)
    theft = Offence("TA1968-s1", f.arrested_at.date())
    with_theft_uncharged = DetentionFacts(**{**f.__dict__, "offences": (*f.offences, theft)})
    assert decide_test(with_theft_uncharged).outcome is Outcome.needs_authorisation
    charged_theft = DetentionFacts(
        **{**with_theft_uncharged.__dict__, "charged_codes": frozenset({"TA1968-s1"})}
    )
    assert decide_test(charged_theft).may_test


# --- properties ---------------------------------------------------------------------------------------


@given(
    st.dates(min_value=date(1940, 1, 1), max_value=date(2010, 12, 31)),
    st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31)),
)
def test_t1_age_on_the_day_of_arrest_decides(dob: date, arrest_day: date) -> None:
    if arrest_day < dob:
        return
    arrested = datetime(arrest_day.year, arrest_day.month, arrest_day.day, 23, 59, tzinfo=UTC)
    f = DetentionFacts(
        date_of_birth=dob,
        arrested_at=arrested,
        offences=(Offence("TA1968-s1", arrest_day),),
        station_at_arrest=notified_on(
            [NotificationPeriod(SUITE, K.testing_on_arrest, date(2000, 1, 1))], SUITE, arrest_day
        ),
    )
    assert decide_test(f).may_test == (age_on(dob, arrest_day) >= 18)


@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2010, 12, 31)), st.integers(min_value=1, max_value=80)
)
def test_age_goes_up_on_the_birthday_and_not_the_day_before(dob: date, years: int) -> None:
    try:
        birthday = dob.replace(year=dob.year + years)
    except ValueError:  # born 29 February; the birthday is 1 March in a common year
        birthday = date(dob.year + years, 3, 1)
    assert age_on(dob, birthday) == years
    assert age_on(dob, birthday - timedelta(days=1)) == years - 1


def _theft_and_damage(**kw: object) -> DetentionFacts:
    f = facts(30, "TA1968-s1", **kw)  # type: ignore[arg-type]
    damage = Offence("CDA1971-s1", f.arrested_at.date())
    return DetentionFacts(**{**f.__dict__, "offences": (*f.offences, damage)})


def test_t9_released_for_the_trigger_offence_still_detained_for_another_the_test_carries_over() -> None:
    released = DetentionFacts(**{**_theft_and_damage().__dict__, "released_for": frozenset({"TA1968-s1"})})
    decision = decide_test(released)
    assert (decision.stage, decision.outcome) == (Stage.arrest, Outcome.required)
    assert decision.rule_ids == ("T1", "T9", "CJCSA-Sch6") and "CDA1971-s1" in decision.reason


def test_t9_carries_over_after_a_charge_with_the_non_trigger_offence_alone() -> None:
    f = _theft_and_damage()
    charged_damage = {
        **f.__dict__,
        "charged_at": f.arrested_at + timedelta(hours=3),
        "charged_codes": frozenset({"CDA1971-s1"}),
        "station_at_charge": f.station_at_arrest,
    }
    without_release = decide_test(DetentionFacts(**charged_damage))
    assert without_release.outcome is Outcome.needs_authorisation  # charged with criminal damage only: T3
    carried = decide_test(DetentionFacts(**{**charged_damage, "released_for": frozenset({"TA1968-s1"})}))
    assert (carried.stage, carried.outcome) == (Stage.charge, Outcome.required)
    assert "T9" in carried.rule_ids


def test_t9_carries_over_only_what_testing_on_arrest_allowed() -> None:
    not_notified = _theft_and_damage(kinds=(K.testing_on_charge,))
    released = DetentionFacts(**{**not_notified.__dict__, "released_for": frozenset({"TA1968-s1"})})
    assert not decide_test(released).may_test
    f = _theft_and_damage()
    released_for_damage = DetentionFacts(**{**f.__dict__, "released_for": frozenset({"CDA1971-s1"})})
    assert decide_test(released_for_damage).rule_ids == ("T1", "CJCSA-Sch6")  # theft still held: plain T1


@given(st.dates(min_value=date(2003, 1, 1), max_value=date(2012, 12, 31)))
def test_notifications_are_effective_dated(day: date) -> None:
    periods = [NotificationPeriod(SUITE, K.testing_on_arrest, date(2005, 4, 1), date(2010, 3, 31))]
    expected = date(2005, 4, 1) <= day <= date(2010, 3, 31)
    assert (K.testing_on_arrest in notified_on(periods, SUITE, day)) is expected
    assert K.testing_on_arrest not in notified_on(periods, "OTHER", day)


@pytest.mark.parametrize("age", [18, 19, 64])
def test_adults_at_notified_stations_are_tested_for_every_trigger_offence_of_2008(age: int) -> None:
    for code in (
        "TA1968-s1",
        "TA1968-s8",
        "TA1968-s9",
        "TA1968-s10",
        "TA1968-s12",
        "TA1968-s12A",
        "TA1968-s22",
        "TA1968-s25",
    ):
        assert decide_test(facts(age, code)).may_test, code


def test_t1_an_arrest_for_breaking_a_bail_condition_alone_gives_no_test_even_for_a_ppo() -> None:
    decision = decide_test(facts(30, "BA1976-s7", is_ppo=True))
    assert (decision.outcome, decision.rule_ids) == (Outcome.not_allowed, ("T1",))
    assert not decision.inspector_decision_requested and "s.7(3)" in decision.reason


def test_t4_a_ppo_arrested_for_failing_to_attend_an_assessment_goes_to_an_inspector() -> None:
    decision = decide_test(facts(30, "DA2005-s12", is_ppo=True))
    assert decision.inspector_decision_requested and "T4" in decision.rule_ids

"""D1-D4 (scenarios S24-S27), the 12-month window at its edges, working days, arrest targets and K3."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow.working_days import add_working_days, is_working_day
from dipflow_breach.domain.arrests import ArrestPolicy, Source, arrest_target, distribution
from dipflow_breach.domain.drr import (
    ComplianceKind,
    Decision,
    issue_warning_or_breach,
    timescales,
    twelve_months_end,
    within_twelve_months_beginning,
)

K = ComplianceKind


def test_s24_a_first_unacceptable_absence_brings_a_warning() -> None:
    outcome = issue_warning_or_breach(K.unacceptable_absence, date(2008, 3, 3), warnings=[])
    assert outcome.decision is Decision.warning and outcome.rule_ids == ("D1", "D2")


def test_d2_the_warning_says_what_failed_that_it_is_unacceptable_and_the_twelve_month_consequence() -> None:
    outcome = issue_warning_or_breach(
        K.unacceptable_absence, date(2008, 3, 3), warnings=[], detail="missed the 10:00 review"
    )
    text = outcome.warning_text
    assert text is not None
    assert (
        "On 03 March 2008 you failed without reasonable excuse" in text and "missed the 10:00 review" in text
    )
    assert "This failure is unacceptable." in text
    assert (
        "within the 12 months beginning with 03 March 2008" in text and "on or before 02 March 2009" in text
    )
    leap = issue_warning_or_breach(K.sample_refused, date(2008, 2, 29), warnings=[]).warning_text
    assert leap is not None and "refused to give a sample" in leap and "on or before 28 February 2009" in leap
    breach = issue_warning_or_breach(K.unacceptable_absence, date(2008, 6, 2), warnings=[date(2008, 3, 3)])
    assert breach.warning_text is None


def test_s25_a_further_failure_within_twelve_months_of_the_warning_is_a_breach_due_in_ten_working_days() -> (
    None
):
    outcome = issue_warning_or_breach(K.unacceptable_absence, date(2009, 2, 1), warnings=[date(2008, 3, 5)])
    assert outcome.decision is Decision.breach and outcome.rule_ids == ("D1", "D3", "D4")
    # Sunday 1 Feb 2009: ten working days on is Friday 13 Feb; twenty is Friday 27 Feb
    assert (outcome.enforcement_due, outcome.hearing_due) == (date(2009, 2, 13), date(2009, 2, 27))


def test_s26_s27_acceptable_absences_and_positive_tests_are_not_failures() -> None:
    for kind in (K.acceptable_absence, K.test_result, K.appointment_kept):
        outcome = issue_warning_or_breach(kind, date(2008, 3, 3), warnings=[date(2008, 3, 1)])
        assert outcome.decision is Decision.recorded and outcome.rule_ids == ("D1",)


def test_d1_a_refused_sample_is_a_failure() -> None:
    assert (
        issue_warning_or_breach(K.sample_refused, date(2008, 3, 3), warnings=[]).decision is Decision.warning
    )


@pytest.mark.parametrize(
    ("failure", "decision"),
    [
        (date(2009, 3, 4), Decision.breach),
        (date(2009, 3, 5), Decision.warning),
        (date(2009, 3, 6), Decision.warning),
    ],
)
def test_d3_the_twelve_months_beginning_with_the_warning_end_the_day_before_its_anniversary(
    failure: date, decision: Decision
) -> None:
    assert (
        issue_warning_or_breach(K.unacceptable_absence, failure, warnings=[date(2008, 3, 5)]).decision
        is decision
    )


def test_d3_a_warning_on_29_february_runs_to_the_end_of_february() -> None:
    assert within_twelve_months_beginning(date(2008, 2, 29), date(2009, 2, 28))
    assert not within_twelve_months_beginning(date(2008, 2, 29), date(2009, 3, 1))


def test_d2_straight_to_breach_and_failures_during_open_proceedings() -> None:
    straight = issue_warning_or_breach(
        K.unacceptable_absence, date(2008, 3, 3), warnings=[], straight_to_breach=True
    )
    assert straight.decision is Decision.breach and "D2" in straight.rule_ids
    during = issue_warning_or_breach(K.unacceptable_absence, date(2008, 3, 10), warnings=[], breach_open=True)
    assert during.decision is Decision.added_to_breach


@given(st.dates(date(2005, 1, 1), date(2030, 12, 31)), st.integers(-400, 800))
def test_d3_window_property(warning: date, offset: int) -> None:
    failure = warning + timedelta(days=offset)
    outcome = issue_warning_or_breach(K.unacceptable_absence, failure, warnings=[warning])
    anniversary = twelve_months_end(warning)
    if failure < warning:
        assert outcome.decision is Decision.warning  # a later warning does not count
    elif failure < anniversary:
        assert outcome.decision is Decision.breach
    else:
        assert outcome.decision is Decision.warning
    assert 365 <= (anniversary - warning).days <= 366


def test_d4_working_days_across_easter_and_the_year_end() -> None:
    # Thursday 20 March 2008: Good Friday 21 and Easter Monday 24 March are not working days
    assert timescales(date(2008, 3, 20))[0] == date(2008, 4, 7)
    # Christmas 2008: 25, 26 Dec and 1 Jan are bank holidays
    assert timescales(date(2008, 12, 23))[0] == date(2009, 1, 9)


@given(st.dates(date(2005, 1, 1), date(2030, 12, 31)))
def test_d4_due_dates_are_working_days_with_exactly_10_and_20_working_days_after_the_failure(
    failure: date,
) -> None:
    enforcement, hearing = timescales(failure)
    assert is_working_day(enforcement) and is_working_day(hearing)
    assert enforcement == add_working_days(failure, 10) and hearing == add_working_days(enforcement, 10)


def test_a4_an_arrest_request_for_a_failure_to_remain_says_so() -> None:
    at = datetime(2008, 6, 10, 12, tzinfo=UTC)
    remain = arrest_target(
        Source.assessment_failure, at, ArrestPolicy(), offence="DA05 s.12(3)", failed_to="remain"
    )
    assert remain.basis.startswith("failure to remain for the whole of a required assessment")
    attend = arrest_target(Source.assessment_failure, at, ArrestPolicy(), offence="DA05 s.12(3)")
    assert attend.basis.startswith("failure to attend a required assessment")


def test_d5_ppo_breach_is_a_premium_arrest_with_the_target_and_others_keep_their_basis() -> None:
    at = datetime(2008, 3, 3, 10, tzinfo=UTC)
    policy = ArrestPolicy(ppo_arrest_target_hours=24)
    premium = arrest_target(Source.drr_breach, at, policy, fast_track=True)
    assert premium.premium and premium.deadline_at == at + timedelta(hours=24) and "D5" in premium.rule_ids
    normal = arrest_target(Source.drr_breach, at, policy, enforcement_due=date(2008, 3, 17))
    assert not normal.premium and normal.deadline_at.date() == date(2008, 3, 17)
    bail = arrest_target(Source.bail_condition, at, policy)
    assert "BA76 s.7(3)" in bail.basis and bail.rule_ids[0] == "B4"


def test_k3_distribution_reports_percentiles_buckets_and_targets() -> None:
    d = distribution([1.0, 5.0, 30.0, 100.0, 200.0], [True, True, False, False, False])
    assert (d.count, d.p50_hours, d.p90_hours, d.max_hours, d.within_target) == (5, 30.0, 200.0, 200.0, 2)
    assert d.buckets == {"<6h": 2, "6-24h": 0, "1-3d": 1, "3-7d": 1, ">7d": 1}
    assert distribution([], []).count == 0


def test_k3_groups_by_source_borough_and_ppo_and_counts_open_requests() -> None:
    from dipflow_breach.domain.arrests import ArrestOutcome, k3

    at = datetime(2008, 3, 3, 10, tzinfo=UTC)
    rows = k3(
        [
            ArrestOutcome(
                "drr_breach", "lambeth", True, at, at + timedelta(hours=24), at + timedelta(hours=5)
            ),
            ArrestOutcome(
                "drr_breach", "lambeth", True, at, at + timedelta(hours=24), at + timedelta(hours=30)
            ),
            ArrestOutcome("drr_breach", "lambeth", True, at, at + timedelta(hours=24), None),
            ArrestOutcome("bail_condition", "camden", False, at, at + timedelta(hours=24), None),
        ]
    )
    assert [(r.source, r.borough, r.ppo, r.distribution.count, r.still_open) for r in rows] == [
        ("bail_condition", "camden", False, 0, 1),
        ("drr_breach", "lambeth", True, 2, 1),
    ]
    assert rows[1].distribution.within_target == 1 and rows[1].distribution.max_hours == 30.0

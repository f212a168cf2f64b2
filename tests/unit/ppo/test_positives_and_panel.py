"""P2 tested-positive entries and P3 panel flags, with 12-month windows."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dipflow_ppo_register.domain.panel import AssessmentFailure, panel_flag
from dipflow_ppo_register.domain.positives import PositiveResult, positive_list_entry, positive_tests
from dipflow_ppo_register.domain.window import months_before, within_months

P = "08/123456X"


def result(detention: str, day: date, drug: str = "cocaine", void: bool = False) -> PositiveResult:
    return PositiveResult(P, detention, day, drug, "camden", void)


def test_twelve_months_before_a_leap_day_is_the_end_of_february() -> None:
    assert months_before(date(2008, 2, 29), 12) == date(2007, 2, 28)
    assert months_before(date(2009, 3, 31), 1) == date(2009, 2, 28)
    assert months_before(date(2008, 1, 15), 13) == date(2006, 12, 15)


def test_the_window_excludes_the_same_day_a_year_earlier_and_includes_the_day_itself() -> None:
    on = date(2008, 6, 1)
    assert within_months(date(2008, 6, 1), on)
    assert within_months(date(2007, 6, 2), on)
    assert not within_months(date(2007, 6, 1), on)
    assert not within_months(date(2008, 6, 2), on)


@given(st.dates(date(2001, 1, 1), date(2030, 12, 31)), st.integers(0, 800))
def test_within_twelve_months_agrees_with_a_calendar_year_back(on: date, days_back: int) -> None:
    when = on - timedelta(days=days_back)
    year_back = months_before(on, 12)
    assert within_months(when, on) == (when > year_back)
    assert (on - year_back).days in (365, 366)


def test_p2_two_drugs_in_one_sample_are_one_positive_test_and_void_results_do_not_count() -> None:
    tests = positive_tests(
        [
            result("D1", date(2008, 1, 10), "opiates"),
            result("D1", date(2008, 1, 10), "cocaine"),
            result("D2", date(2008, 4, 2), "opiates", void=True),
            result("D3", date(2008, 5, 20), "cocaine"),
        ]
    )
    assert [(t.detention_id, t.drugs) for t in tests] == [
        ("D1", ("cocaine", "opiates")),
        ("D3", ("cocaine",)),
    ]
    entry = positive_list_entry(tests, date(2008, 6, 1))
    assert entry is not None
    assert (entry.last_positive_on, entry.last_drugs, entry.positives_in_12_months) == (
        date(2008, 5, 20),
        ("cocaine",),
        2,
    )
    assert entry.rule_ids == ("P2",)


def test_p2_the_list_as_of_a_date_ignores_later_tests_and_counts_only_the_last_twelve_months() -> None:
    tests = positive_tests(
        [result("D1", date(2007, 3, 1)), result("D2", date(2008, 2, 1)), result("D3", date(2008, 9, 1))]
    )
    entry = positive_list_entry(tests, date(2008, 4, 1))
    assert entry is not None and entry.last_positive_on == date(2008, 2, 1)
    assert entry.positives_in_12_months == 1
    assert positive_list_entry(tests, date(2007, 2, 28)) is None


def failure(day: date) -> AssessmentFailure:
    return AssessmentFailure(P, "A1", day, "failed_to_attend")


def test_p3_three_positives_and_a_failed_assessment_in_twelve_months_raise_a_flag_with_evidence() -> None:
    tests = positive_tests([result(f"D{i}", date(2008, m, 1)) for i, m in enumerate((1, 4, 7))])
    flag = panel_flag(tests, [failure(date(2008, 5, 1))], date(2008, 7, 1), threshold=3)
    assert flag is not None and flag.rule_ids == ("P3",)
    assert len(flag.positives) == 3 and len(flag.failures) == 1
    assert "3 positive tests" in flag.reason


def test_p3_no_flag_without_a_failure_or_with_too_few_positives_in_the_window() -> None:
    tests = positive_tests([result(f"D{i}", date(2008, m, 1)) for i, m in enumerate((1, 4, 7))])
    assert panel_flag(tests, [], date(2008, 7, 1), threshold=3) is None
    assert panel_flag(tests, [failure(date(2008, 5, 1))], date(2008, 7, 1), threshold=4) is None
    # the January positive has left the window by 1 Jan 2009
    assert panel_flag(tests, [failure(date(2008, 5, 1))], date(2009, 1, 1), threshold=3) is None
    # a failure more than 12 months before does not count
    assert panel_flag(tests, [failure(date(2007, 6, 1))], date(2008, 7, 1), threshold=3) is None


@given(
    st.lists(st.integers(0, 700), min_size=0, max_size=8),
    st.lists(st.integers(0, 700), min_size=0, max_size=3),
    st.integers(1, 5),
)
def test_p3_flag_matches_a_direct_count(
    positive_days: list[int], failure_days: list[int], threshold: int
) -> None:
    on = date(2009, 6, 30)
    tests = positive_tests([result(f"D{i}", on - timedelta(days=d)) for i, d in enumerate(positive_days)])
    failures = [failure(on - timedelta(days=d)) for d in failure_days]
    year_back = date(2008, 6, 30)
    recent_positives = sum(1 for d in positive_days if on - timedelta(days=d) > year_back)
    recent_failures = sum(1 for d in failure_days if on - timedelta(days=d) > year_back)
    expected = recent_positives >= threshold and recent_failures > 0
    assert (panel_flag(tests, failures, on, threshold=threshold) is not None) == expected


def test_p3_the_flag_is_raised_on_the_first_day_p3_held_whatever_order_the_evidence_came_in() -> None:
    from dipflow_ppo_register.domain.panel import first_panel_flag

    tests = positive_tests([result(f"D{i}", date(2008, m, 10)) for i, m in enumerate((1, 2, 3))])
    failures = [failure(date(2008, 3, 28))]
    flag = first_panel_flag(tests, failures, threshold=3)
    assert flag is not None and flag.raised_on == date(2008, 3, 28)
    assert first_panel_flag(list(reversed(tests)), failures, threshold=3) == flag
    # after a review on 1 April, the same evidence raises nothing; a new positive does
    assert first_panel_flag(tests, failures, threshold=3, evidence_after=date(2008, 4, 1)) is None
    later = positive_tests([result(f"D{i}", date(2008, m, 10)) for i, m in enumerate((1, 2, 3, 5))])
    again = first_panel_flag(later, failures, threshold=3, evidence_after=date(2008, 4, 1))
    assert again is not None and again.raised_on == date(2008, 5, 10)


@given(st.lists(st.integers(0, 400), max_size=6), st.lists(st.integers(0, 400), max_size=3), st.randoms())
def test_p3_first_flag_does_not_depend_on_arrival_order(
    positive_days: list[int], failure_days: list[int], rnd: object
) -> None:
    import random

    from dipflow_ppo_register.domain.panel import first_panel_flag

    start = date(2008, 1, 1)
    tests = positive_tests([result(f"D{i}", start + timedelta(days=d)) for i, d in enumerate(positive_days)])
    failures = [failure(start + timedelta(days=d)) for d in failure_days]
    shuffled_tests, shuffled_failures = list(tests), list(failures)
    assert isinstance(rnd, random.Random)
    rnd.shuffle(shuffled_tests)
    rnd.shuffle(shuffled_failures)
    one = first_panel_flag(tests, failures, threshold=2)
    other = first_panel_flag(shuffled_tests, shuffled_failures, threshold=2)
    assert (one.raised_on if one else None) == (other.raised_on if other else None)

"""K1 and K2 from arrests, charges and the register's history, checked against a direct count."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow.periods import Granularity
from dipflow_ppo_register.domain.measures import ALL_BOROUGHS, Arrest, Charge, K1Row, Target, k1, k2
from dipflow_ppo_register.domain.register import Period, Strand


def period(person: str, borough: str, start: date, end: date | None = None) -> Period:
    return Period(person, borough, Strand.catch_and_convict, start, end, "panel", "coordinator")


REGISTER = {
    "A": [period("A", "camden", date(2008, 1, 1), date(2008, 3, 31)), period("A", "brent", date(2008, 4, 1))],
    "B": [period("B", "camden", date(2008, 2, 15))],
}


def no_target(borough: str) -> Target | None:
    return None


def arrest(n: int, person: str, day: date, **kw: object) -> Arrest:
    return Arrest(f"D{n}", person, day, **kw)  # type: ignore[arg-type]


def test_k1_counts_ppo_non_trigger_arrests_by_the_borough_of_the_period_in_force() -> None:
    arrests = [
        arrest(1, "A", date(2008, 1, 10), inspector_decision="authorised"),
        arrest(2, "A", date(2008, 1, 20)),
        arrest(3, "A", date(2008, 4, 5), inspector_decision="declined"),  # now in brent
        arrest(4, "B", date(2008, 2, 1), inspector_decision="authorised"),  # before B joined
        arrest(5, "B", date(2008, 2, 20), trigger_offence=True),  # trigger offence: not K1
        arrest(6, "B", date(2008, 2, 21), only_arrest_powers=True),  # BA76 s.7(3) only: not an offence
        arrest(7, "C", date(2008, 1, 5), inspector_decision="authorised"),  # never a PPO
    ]
    rows = {(r.period, r.borough): r for r in k1(arrests, REGISTER, Granularity.month, no_target)}
    assert set(rows) == {
        ("2008-01", "camden"),
        ("2008-01", ALL_BOROUGHS),
        ("2008-04", "brent"),
        ("2008-04", ALL_BOROUGHS),
    }
    jan = rows[("2008-01", "camden")]
    assert (jan.ppo_non_trigger_arrests, jan.inspector_decisions, jan.share) == (2, 1, 0.5)
    assert rows[("2008-04", "brent")].share == 1.0


def test_k1_target_is_on_the_number_of_ppos_considered_against_a_pro_rata_baseline_not_on_the_share() -> None:
    """5.1.1 counts PPOs considered through an inspector; the earlier share-based target was the wrong measure
    (a 50% rise in a share above 67% cannot happen). The share stays as the second line."""
    arrests = [arrest(1, "A", date(2008, 1, 3), inspector_decision="authorised")]
    arrests += [arrest(2 + i, "A", date(2008, 1, 4 + i)) for i in range(3)]  # January: 1 of 4 put, 1 PPO
    arrests += [
        arrest(10, "A", date(2008, 2, 2), inspector_decision="authorised"),
        arrest(11, "A", date(2008, 2, 3), inspector_decision="declined"),
        arrest(12, "B", date(2008, 2, 20), inspector_decision="authorised"),  # B on the register from 15 Feb
        arrest(13, "A", date(2008, 2, 21)),
        arrest(14, "A", date(2008, 2, 22)),
    ]  # February: 3 of 5 put, 2 PPOs

    def by_month(baseline: str) -> dict[tuple[str, str], K1Row]:
        rows = k1(arrests, REGISTER, Granularity.month, lambda b: Target(baseline, 0.5))
        return {(r.period, r.borough): r for r in rows}

    feb = by_month("2008-01")[("2008-02", "camden")]
    assert (feb.ppos_considered, feb.inspector_decisions, feb.authorised, feb.declined) == (2, 3, 2, 1)
    assert feb.baseline_ppos_considered == 1 and feb.target_ppos_considered == 1.5
    assert feb.target_met is True and feb.change_relative == pytest.approx(1.0)
    assert feb.share == pytest.approx(0.6) and feb.share_change_points == pytest.approx(0.35)
    # a quarter's baseline is taken pro rata for a month: Jan-Mar 2008 considered A and B, 2/3 a month
    quarter_based = by_month("2007/08 Q4")[("2008-02", "camden")]
    assert quarter_based.baseline_ppos_considered == pytest.approx(2 / 3)
    assert quarter_based.target_met is True
    jan = by_month("2008-02")[("2008-01", "camden")]
    assert jan.target_met is False  # 1 < 2 x 1.5
    by_quarter = k1(arrests, REGISTER, Granularity.quarter, no_target)
    assert {(r.period, r.borough): r.ppos_considered for r in by_quarter}[("2007/08 Q4", "camden")] == 2


def test_k2_counts_ppos_charged_with_failing_to_attend_and_arrested_for_breaking_a_bail_condition() -> None:
    charges = [
        Charge("D1", "A", date(2008, 2, 1), frozenset({"DA2005-s12"})),
        Charge("D2", "A", date(2008, 2, 9), frozenset({"DA2005-s14", "TA1968-s1"})),
        Charge("D3", "B", date(2008, 2, 10), frozenset({"DA2005-s12"})),  # not yet a PPO
        Charge("D4", "B", date(2008, 3, 1), frozenset({"TA1968-s1"})),  # another offence
    ]
    arrests = [
        arrest(5, "B", date(2008, 3, 3), codes=frozenset({"BA1976-s7"}), only_arrest_powers=True),
        arrest(6, "C", date(2008, 3, 3), codes=frozenset({"BA1976-s7"}), only_arrest_powers=True),
    ]
    rows = {(r.period, r.borough): r for r in k2(arrests, charges, REGISTER)}
    feb = rows[("2008-02", "camden")]
    assert (feb.prosecuted_for_failing_to_attend, feb.people_prosecuted) == (2, 1)
    mar = rows[("2008-03", "camden")]
    assert (
        mar.arrested_for_breaking_bail_condition,
        mar.people_arrested,
        mar.prosecuted_for_failing_to_attend,
    ) == (1, 1, 0)
    assert ("2008-03", "brent") not in rows


people = st.sampled_from(["A", "B", "C"])
days = st.integers(0, 200).map(lambda n: date(2008, 1, 1) + timedelta(days=n))
arrests_strategy = st.lists(
    st.tuples(people, days, st.booleans(), st.booleans(), st.sampled_from([None, "authorised", "declined"])),
    max_size=40,
)


@given(arrests_strategy)
def test_k1_matches_a_direct_count(generated: list[tuple[str, date, bool, bool, str | None]]) -> None:
    arrests = [
        Arrest(f"D{i}", p, d, trigger_offence=t, only_arrest_powers=o, inspector_decision=dec)
        for i, (p, d, t, o, dec) in enumerate(generated)
    ]
    expected: dict[tuple[str, str], list[int]] = {}
    for p, d, t, o, dec in generated:
        borough = None
        for per in REGISTER.get(p, []):
            if per.start_date <= d and (per.end_date is None or d <= per.end_date):
                borough = per.borough
        if borough is None or t or o:
            continue
        for b in (borough, ALL_BOROUGHS):
            tally = expected.setdefault((d.strftime("%Y-%m"), b), [0, 0])
            tally[0] += 1
            tally[1] += dec is not None
    got = {
        (r.period, r.borough): [r.ppo_non_trigger_arrests, r.inspector_decisions]
        for r in k1(arrests, REGISTER, Granularity.month, no_target)
    }
    assert got == expected


def test_k2_follows_each_ppos_failure_to_attend_to_a_charge_no_further_action_or_pending() -> None:
    from dipflow_ppo_register.domain.measures import FollowedBy, followed_by
    from dipflow_ppo_register.domain.panel import AssessmentFailure

    failure = AssessmentFailure("A", "AS-1", date(2008, 2, 10), "failed_to_attend")
    failing = frozenset({"DA2005-s12"})
    before = Charge("D0", "A", date(2008, 2, 9), failing)  # a charge before the failure is for another one
    assert followed_by(failure, [], [before]) is FollowedBy.pending
    charged = Charge("D1", "A", date(2008, 2, 20), failing)
    assert followed_by(failure, [], [charged]) is FollowedBy.charged
    released = arrest(
        2, "A", date(2008, 2, 12), codes=failing, released_on=date(2008, 2, 12), release="no_further_action"
    )
    assert followed_by(failure, [released], []) is FollowedBy.no_further_action
    bailed = arrest(3, "A", date(2008, 2, 12), codes=failing, release="police_bail")
    assert followed_by(failure, [bailed], []) is FollowedBy.pending  # not decided yet
    other = arrest(4, "B", date(2008, 2, 12), codes=failing, release="no_further_action")
    assert followed_by(failure, [other], []) is FollowedBy.pending  # someone else's arrest
    rows = k2([], [charged], REGISTER, Granularity.month, [failure], ([], [charged]))
    feb = {(r.period, r.borough): r for r in rows}[("2008-02", "camden")]
    assert (feb.failures_notified, feb.failures_charged, feb.failures_pending) == (1, 1, 0)


def test_k1_gives_no_target_on_a_baseline_with_nobody_considered() -> None:
    arrests = [
        arrest(1, "A", date(2008, 1, 3)),
        arrest(2, "A", date(2008, 2, 3), inspector_decision="authorised"),
    ]
    rows = {
        (r.period, r.borough): r
        for r in k1(arrests, REGISTER, Granularity.month, lambda b: Target("2008-01"))
    }
    feb = rows[("2008-02", "camden")]
    assert feb.baseline_ppos_considered == 0 and feb.target_ppos_considered is None and feb.target_met is None

"""K1 and K2 from arrests, charges and the register's history, checked against a direct count."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow_ppo_register.domain.measures import ALL_BOROUGHS, Arrest, Charge, k1, k2
from dipflow_ppo_register.domain.register import Period, Strand


def period(person: str, borough: str, start: date, end: date | None = None) -> Period:
    return Period(person, borough, Strand.catch_and_convict, start, end, "panel", "coordinator")


REGISTER = {
    "A": [period("A", "camden", date(2008, 1, 1), date(2008, 3, 31)), period("A", "brent", date(2008, 4, 1))],
    "B": [period("B", "camden", date(2008, 2, 15))],
}


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
    rows = {(r.month, r.borough): r for r in k1(arrests, REGISTER, baseline_month=None)}
    assert set(rows) == {
        ("2008-01", "camden"),
        ("2008-01", ALL_BOROUGHS),
        ("2008-04", "brent"),
        ("2008-04", ALL_BOROUGHS),
    }
    jan = rows[("2008-01", "camden")]
    assert (jan.ppo_non_trigger_arrests, jan.inspector_decisions, jan.share) == (2, 1, 0.5)
    assert rows[("2008-04", "brent")].share == 1.0


def test_k1_change_against_the_baseline_month_and_the_fifty_percent_target() -> None:
    arrests = [
        arrest(i, "A", date(2008, 1, 2 + i), inspector_decision="authorised" if i < 1 else None)
        for i in range(4)
    ]
    arrests += [
        arrest(10 + i, "A", date(2008, 2, 2 + i), inspector_decision="authorised" if i < 2 else None)
        for i in range(5)
    ]
    rows = {(r.month, r.borough): r for r in k1(arrests, REGISTER, baseline_month="2008-01")}
    feb = rows[("2008-02", "camden")]
    assert feb.baseline_share == 0.25 and feb.share == pytest.approx(0.4)
    assert feb.change_points == pytest.approx(0.15) and feb.change_relative == pytest.approx(0.6)
    assert feb.target_met is True
    assert rows[("2008-01", "camden")].target_met is False


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
    rows = {(r.month, r.borough): r for r in k2(arrests, charges, REGISTER)}
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
        (r.month, r.borough): [r.ppo_non_trigger_arrests, r.inspector_decisions]
        for r in k1(arrests, REGISTER, baseline_month=None)
    }
    assert got == expected

"""K5 costs: kits in the period the tests were taken; a suite's machine and training once, in the period of its
first test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dipflow.periods import Granularity
from dipflow_custody.domain.costs import Costs, k5

SEED = Costs(Decimal("9.17"), Decimal("1375"), Decimal("600"), officers_per_session=8, officers_per_suite=12)


def test_the_seeds_costs_a_suite_set_up_once_in_the_period_of_its_first_test() -> None:
    assert SEED.set_up == Decimal("2575")  # the machine and two sessions for 12 officers
    tests = {("2008-03", "A"): 2, ("2008-04", "A"): 1, ("2008-04", "B"): 3}
    lines = k5(tests, {"A": date(2008, 3, 3), "B": date(2008, 4, 2)}, Granularity.month, SEED)
    got = {(x.period, x.suite): (x.kit_cost, x.set_up_cost, x.total_cost) for x in lines}
    assert got == {
        ("2008-03", "A"): (Decimal("18.34"), Decimal("2575"), Decimal("2593.34")),
        ("2008-04", "A"): (Decimal("9.17"), Decimal(0), Decimal("9.17")),
        ("2008-04", "B"): (Decimal("27.51"), Decimal("2575"), Decimal("2602.51")),
    }


def test_a_suite_that_first_tested_before_the_period_carries_no_set_up_cost_in_it() -> None:
    lines = k5({("2008/09 Q1", "A"): 5}, {"A": date(2008, 3, 31)}, Granularity.quarter, SEED)
    assert [x.set_up_cost for x in lines] == [Decimal(0)]  # 31 March is 2007/08 Q4

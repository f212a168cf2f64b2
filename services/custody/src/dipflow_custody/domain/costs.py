"""K5 costs (the seed's: test kits at £9.17, a testing machine per suite about £1,375, training at £600 a session
of 8 officers): running costs in the period the tests were taken, a suite's set-up costs in the period of its
first test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dipflow.periods import Granularity, period_of


@dataclass(frozen=True)
class Costs:
    kit: Decimal
    machine: Decimal
    training_session: Decimal
    officers_per_session: int
    officers_per_suite: int

    @property
    def set_up(self) -> Decimal:
        """A suite's machine and enough sessions to train its officers."""
        sessions = -(-self.officers_per_suite // self.officers_per_session)
        return self.machine + sessions * self.training_session


@dataclass(frozen=True)
class K5Line:
    period: str
    suite: str
    tests: int
    kit_cost: Decimal
    set_up_cost: Decimal

    @property
    def total_cost(self) -> Decimal:
        return self.kit_cost + self.set_up_cost


def k5(
    tests: Mapping[tuple[str, str], int], first_tested: Mapping[str, date], per: Granularity, costs: Costs
) -> list[K5Line]:
    """One line per (period, suite) with tests; the set-up cost falls in the period holding the suite's first test."""
    lines = []
    for (period, suite), n in sorted(tests.items()):
        first = first_tested.get(suite)
        set_up = costs.set_up if first is not None and period_of(first, per) == period else Decimal(0)
        lines.append(K5Line(period, suite, n, costs.kit * n, set_up))
    return lines

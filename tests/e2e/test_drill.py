"""The failure drill in a short form (the long one is `make drill`): generated journeys through two instances
of each of the four services while instances are SIGKILLed at random and restarted, the broker restarted once and PostgreSQL
restarted once; the reconciliation must find every effect exactly once and each deadline fired once."""

from __future__ import annotations

import pytest
from bench.drill import run_drill

pytestmark = pytest.mark.timeout(600)


async def test_drill_loses_and_duplicates_nothing_through_kills_and_restarts() -> None:
    report = await run_drill(journeys=150, kills=4, rate=15, seed=7, settle_s=120, replicas=2)
    report.print()
    assert sum(report.chaos.kills.values()) == 4
    assert report.replicas == 2
    assert report.chaos.broker_restarts == 1 and report.chaos.postgres_restarts == 1
    assert [c for c in report.checks if c.lost or c.duplicated] == []
    assert not report.dead, report.dead
    assert all(c.expected > 0 for c in report.checks)

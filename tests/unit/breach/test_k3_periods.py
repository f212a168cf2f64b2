"""K3 by period against a baseline period (5.2.1: a reduction in the time taken to arrest must be visible),
requests counted in the London period they were made in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dipflow.periods import Granularity
from dipflow_breach.domain.arrests import ArrestOutcome, k3, k3_baseline


def outcome(requested: datetime, hours: float | None, borough: str = "lambeth") -> ArrestOutcome:
    arrested = None if hours is None else requested + timedelta(hours=hours)
    return ArrestOutcome(
        "failed_assessment", borough, False, requested, requested + timedelta(days=2), arrested
    )


def test_k3_by_month_beside_the_baseline_shows_the_reduction_in_the_median() -> None:
    january = [outcome(datetime(2008, 1, d, 12, tzinfo=UTC), h) for d, h in ((3, 10), (4, 30), (5, 50))]
    # requested 23:30 UTC on 31 March 2008 is 00:30 on 1 April in London (BST began 30 March): April's
    april = [
        outcome(datetime(2008, 3, 31, 23, 30, tzinfo=UTC), 5),
        outcome(datetime(2008, 4, 9, tzinfo=UTC), 15),
    ]
    april.append(outcome(datetime(2008, 4, 10, tzinfo=UTC), None))
    rows = k3(january + april, Granularity.month, ("2008-01", k3_baseline(january)))
    by_period = {r.period: r for r in rows}
    assert set(by_period) == {"2008-01", "2008-04"}
    assert by_period["2008-04"].distribution.count == 2 and by_period["2008-04"].still_open == 1
    assert by_period["2008-01"].distribution.p50_hours == 30
    assert by_period["2008-04"].baseline is not None and by_period["2008-04"].baseline.p50_hours == 30
    assert (
        by_period["2008-04"].median_change == 5 / 30 - 1
    )  # nearest-rank median 5 h against 30 h: a reduction
    by_quarter = {r.period for r in k3(january + april, Granularity.quarter)}
    assert by_quarter == {"2007/08 Q4", "2008/09 Q1"}
    assert k3(january)[0].period is None  # without ?per= one row per group, as before

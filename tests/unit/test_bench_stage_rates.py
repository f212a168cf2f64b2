"""`make bench` offers rising rates: up its ladder until a stage does not hold, then halfway between the
highest that held and the lowest that did not, so the capacity is known to better than a factor of two."""

from __future__ import annotations

from bench.pipeline import Stage, stage_rates


def offered(ladder: tuple[int, ...], capacity: float, refinements: int) -> list[int]:
    stages: list[Stage] = []
    rates = []
    for rate in stage_rates(ladder, stages, refinements=refinements):
        rates.append(rate)
        stages.append(Stage(rate, rate * 20, 20.0, 0, 0, 0.0 if rate <= capacity else 30.0))
    return rates


def test_the_ladder_stops_at_the_first_stage_that_does_not_hold_then_halves_the_gap_twice() -> None:
    assert offered((20, 40, 80, 160), capacity=70, refinements=2) == [20, 40, 80, 60, 70]
    assert offered((20, 40, 80, 160), capacity=45, refinements=2) == [20, 40, 80, 60, 50]


def test_a_machine_that_holds_every_stage_runs_the_ladder_only() -> None:
    assert offered((20, 40), capacity=1000, refinements=2) == [20, 40]


def test_halving_stops_when_the_gap_is_closed() -> None:
    assert offered((1, 2), capacity=1, refinements=3) == [1, 2]

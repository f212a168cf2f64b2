"""How a long-running process collects its garbage (dipflow.heap)."""

from __future__ import annotations

import gc

from dipflow.heap import GC_PAUSE, YOUNG_COLLECTION_ALLOCATIONS, steady_collection


def _collections(generation: int) -> float:
    samples = [s for metric in GC_PAUSE.collect() for s in metric.samples]
    return sum(
        float(s.value)
        for s in samples
        if s.name.endswith("_count") and s.labels["generation"] == str(generation)
    )


def test_inside_what_exists_is_frozen_young_collections_are_spaced_and_pauses_are_measured() -> None:
    before = gc.get_threshold()
    with steady_collection():
        assert gc.get_freeze_count() > 1000  # the modules imported so far, at least
        assert gc.get_threshold() == (YOUNG_COLLECTION_ALLOCATIONS, before[1], before[2])
        counted = _collections(2)
        gc.collect()
        assert _collections(2) == counted + 1
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_after_it_ends_pauses_are_no_longer_measured() -> None:
    with steady_collection():
        pass
    counted = _collections(2)
    gc.collect()
    assert _collections(2) == counted


def test_nested_it_changes_nothing_and_leaves_the_outer_one_in_force() -> None:
    before = gc.get_threshold()
    with steady_collection():
        frozen = gc.get_freeze_count()
        with steady_collection():
            assert gc.get_freeze_count() == frozen
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_ALLOCATIONS
        assert gc.get_freeze_count() == frozen
        counted = _collections(2)
        gc.collect()
        assert _collections(2) == counted + 1  # measured once, not twice
    assert gc.get_threshold() == before

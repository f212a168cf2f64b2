"""How a long-running dipflow process collects its garbage, and what the collections cost it.

CPython collects its youngest objects after every 700 net allocations. A consumer holds each fetched batch
(records, envelopes, payload models) across a few awaits: those objects outlive a young collection, are
promoted, and each promotion step walks them again, while full collections walk everything promoted since. In
the replay that was a third of the process's CPU. A process that settles into its steady work therefore
freezes what starting made (it lives as long as the process; full collections leave it out) and collects its
young objects after every :data:`YOUNG_COLLECTION_ALLOCATIONS` allocations instead. Reference counting still
frees every object without a cycle at once; only cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Histogram

YOUNG_COLLECTION_ALLOCATIONS = 10_000
"""Net allocations between collections of the youngest generation (CPython's default is 700); the older
generations keep CPython's ratios (every 10th collection goes one generation further)."""

GC_PAUSE = Histogram(
    "dipflow_gc_pause_seconds",
    "Garbage collection pauses (the whole process waits), by generation collected",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)


@contextmanager
def steady_collection() -> Iterator[None]:
    """While inside: what exists at entry is frozen (no collection walks it; it is not collected first, which in
    a test process starting many services would cost a full collection each time), young collections are spaced
    out, and every pause is observed in ``dipflow_gc_pause_seconds``. On exit the frozen objects are collectable
    again and the thresholds are those found at entry (a test process goes on as before). Nested, it does
    nothing."""
    if _observe_pause in gc.callbacks:
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, thresholds[1], thresholds[2])
    gc.callbacks.append(_observe_pause)
    try:
        yield
    finally:
        gc.callbacks.remove(_observe_pause)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


_started: list[float] = [0.0]


def _observe_pause(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        GC_PAUSE.labels(str(info["generation"])).observe(time.perf_counter() - _started[0])

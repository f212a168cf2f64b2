"""A consumer parses a polled batch in slices, so requests and timers on the same event loop are not held up
for the whole batch (dipflow.events.consumer.parse_batch)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord

from dipflow.devstack.probe import PROBE_REGISTRY, probe_event
from dipflow.events import Envelope
from dipflow.events.consumer import PARSE_SLICE, parse_batch


def _record(offset: int, value: bytes | None) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t", 0, offset, 0, 0, b"k", value, None, 0, 0, ())


async def test_other_work_on_the_loop_runs_between_slices_of_a_long_batch() -> None:
    records = [_record(n, probe_event(n).to_bytes()) for n in range(10 * PARSE_SLICE)]
    parsed_so_far = 0

    def counting(record: ConsumerRecord[Any, Any], envelope: Envelope) -> None:
        nonlocal parsed_so_far
        parsed_so_far += 1

    async def a_request() -> int:
        return parsed_so_far

    request = asyncio.ensure_future(a_request())
    batch = await parse_batch(PROBE_REGISTRY, records, counting)
    assert len(batch.parsed) == len(records)
    assert await request <= PARSE_SLICE


async def test_a_batch_keeps_each_record_in_its_place_tombstones_and_bad_records_apart() -> None:
    values = [probe_event(0).to_bytes(), None, b"{not json", probe_event(1).to_bytes()]
    batch = await parse_batch(PROBE_REGISTRY, [_record(n, v) for n, v in enumerate(values)])
    assert [p.record.offset for p in batch.parsed] == [0, 3]
    assert [t.offset for t in batch.tombstones] == [1]
    assert [(d.record.offset, d.reason) for d in batch.dead] == [(2, "malformed-json")]
    assert batch.skipped == 0

"""The backbone tests' event: the library's probe event (one `effects` row per applied event)."""

from __future__ import annotations

import asyncpg

from dipflow.db.appends import Writes
from dipflow.devstack.probe import EFFECTS_TABLE, PROBE_PRODUCER, PROBE_REGISTRY, probe_event, record_effect
from dipflow.events import Envelope
from dipflow.events.outbox import add_to_outbox
from dipflow.events.replay import ReplaySpec

REGISTRY = PROBE_REGISTRY
PRODUCER = PROBE_PRODUCER
__all__ = [
    "EFFECTS_TABLE",
    "PRODUCER",
    "REGISTRY",
    "record_effect",
    "replay_spec",
    "sample_event",
    "write_events",
]


def sample_event(sequence: int, person: str | None = None) -> Envelope:
    return probe_event(sequence, person)


async def write_events(pool: asyncpg.Pool, topic: str, start: int, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await add_to_outbox(Writes(conn), topic, [sample_event(i) for i in range(start, start + count)])


def replay_spec() -> ReplaySpec:
    """How the test consumer's `effects` table is rebuilt (used by `dipflow replay` in the tests)."""
    import os

    return ReplaySpec(
        group_id="replay",
        topics=[os.environ["REPLAY_TOPIC"]],
        registry=REGISTRY,
        handler=record_effect,
        tables=["effects"],
    )

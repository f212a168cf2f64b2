"""The backbone tests' event: the library's probe event (one `effects` row per applied event)."""

from __future__ import annotations

import asyncpg

from dipflow.db.appends import Writes
from dipflow.devstack.probe import EFFECTS_TABLE, PROBE_PRODUCER, PROBE_REGISTRY, probe_event, record_effect
from dipflow.events import Envelope, EventPayload
from dipflow.events.outbox import add_to_outbox
from dipflow.events.replay import ReplaySpec
from dipflow.uow import UnitOfWork
from dipflow_custody.contracts.events import ResultRecorded

REGISTRY = PROBE_REGISTRY
PRODUCER = PROBE_PRODUCER
__all__ = [
    "EFFECTS_TABLE",
    "PRODUCER",
    "REGISTRY",
    "chatty_replay_spec",
    "positive_result",
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


def positive_result() -> ResultRecorded:
    """A positive result as custody writes it on ``custody.events.v1`` (cocaine, undisputed, aged 30, camden)."""
    return ResultRecorded(
        detention_id="D1",
        suite="S",
        drug="cocaine",
        result="positive",
        disputed=False,
        medication_declared=None,
        confirmation_required=False,
        age=30,
        home_area="camden",
    )


def chatty_replay_spec() -> ReplaySpec:
    """:func:`replay_spec` whose handler also prints to standard output, as an unconfigured logger would."""
    import dataclasses

    async def print_and_record(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        print(f"applying {envelope.event_id}")
        await record_effect(uow, envelope, payload)

    return dataclasses.replace(replay_spec(), handler=print_and_record)

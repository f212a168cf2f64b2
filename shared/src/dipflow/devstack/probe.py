"""A synthetic event for tests, drills and benchmarks of the backbone itself.

Its effect is one ``effects`` row per applied event and the table has no unique constraint, so a duplicate
effect shows up as an extra row. Not used by any service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from dipflow.events import Envelope, EventPayload, EventRegistry, new_envelope
from dipflow.uow import Producer, UnitOfWork

PROBE_PRODUCER = Producer("probe", "probe.events.v1")


class ProbeRecorded(EventPayload):
    event_type = "probe.recorded"
    event_version = 1
    topic = "probe.events.v1"

    sequence: int
    drug: str


PROBE_REGISTRY = EventRegistry(ProbeRecorded)

EFFECTS_TABLE = """
CREATE TABLE IF NOT EXISTS effects (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL,
    person_id text NOT NULL,
    sequence integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def record_effect(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
    if not isinstance(payload, ProbeRecorded):
        raise TypeError(f"unexpected payload {type(payload).__name__}")
    await uow.conn.execute(
        "INSERT INTO effects (event_id, person_id, sequence) VALUES ($1, $2, $3)",
        envelope.event_id,
        envelope.person_id,
        payload.sequence,
    )


def probe_event(
    sequence: int, person: str | None = None, *, people: int = 17, producer: str = "test"
) -> Envelope:
    """Event number ``sequence``, keyed by one of ``people`` person ids unless ``person`` is given."""
    return new_envelope(
        ProbeRecorded(sequence=sequence, drug="cocaine"),
        person_id=person or f"P{sequence % people:04d}",
        producer=producer,
        occurred_at=datetime.now(UTC),
        event_id=uuid.uuid4(),
    )

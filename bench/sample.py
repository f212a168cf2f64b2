"""The benchmark's event: the library's probe event, keyed over many people so all partitions are used."""

from __future__ import annotations

from dipflow.devstack.probe import EFFECTS_TABLE, PROBE_REGISTRY, probe_event, record_effect
from dipflow.events import Envelope
from dipflow.topics import TopicSpec

EVENTS_TOPIC = TopicSpec("bench.events.v1", partitions=6)
RAW_TOPIC = TopicSpec("bench.raw.v1", partitions=6)
PEOPLE = 1000  # distinct keys, so the records spread over all partitions
REGISTRY = PROBE_REGISTRY

__all__ = ["EFFECTS_TABLE", "EVENTS_TOPIC", "RAW_TOPIC", "REGISTRY", "record_effect", "sample_event"]


def sample_event(sequence: int) -> Envelope:
    return probe_event(sequence, people=PEOPLE, producer="bench")

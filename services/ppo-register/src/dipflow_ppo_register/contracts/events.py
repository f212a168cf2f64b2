"""The events the ppo-register service produces (one payload model per event type and version) and the topics it
consumes. ``dipflow schemas`` turns them into docs/schemas and docs/asyncapi.yaml."""

from __future__ import annotations

from datetime import date

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_EVENTS, PPO_REGISTER, REFERRAL_EVENTS
from dipflow.uow import Producer
from dipflow_ppo_register.domain.register import Strand


class PpoStatus(EventPayload):
    """The current PPO status of a person, on the compacted topic keyed by person id; a tombstone (null
    value) means the person is no longer on the register."""

    event_type = "ppo.status"
    topic = PPO_REGISTER.name
    borough: str
    strand: Strand
    start_date: date


PRODUCER = Producer("ppo-register", PPO_REGISTER.name)
EVENTS = EventRegistry(PpoStatus)
__all__ = ["CONSUMES", "EVENTS", "PRODUCER", "PpoStatus", "Strand"]
CONSUMES: list[str] = [CUSTODY_EVENTS.name, REFERRAL_EVENTS.name]

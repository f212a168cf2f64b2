"""The events the referral service produces (one payload model per event type and version) and the topics it
consumes. ``dipflow schemas`` turns them into docs/schemas and docs/asyncapi.yaml."""

from __future__ import annotations

from dipflow.events import EventRegistry
from dipflow.topics import CUSTODY_EVENTS

EVENTS = EventRegistry()
CONSUMES: list[str] = [CUSTODY_EVENTS.name]

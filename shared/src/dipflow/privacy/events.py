"""The erasure events on ``privacy.requests.v1``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import PRIVACY_REQUESTS


class ErasureRequested(EventPayload):
    """Erase the personal data of the person the envelope names, in every service (the key is their id)."""

    event_type = "privacy.erasure_requested"
    topic = PRIVACY_REQUESTS.name
    request_id: uuid.UUID
    requested_by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class ErasureCompleted(EventPayload):
    """One service has erased the person; the envelope names them by that service's pseudonym only."""

    event_type = "privacy.erasure_completed"
    topic = PRIVACY_REQUESTS.name
    request_id: uuid.UUID
    service: str = Field(min_length=1, max_length=100)
    erased_at: datetime
    rows: dict[str, int]


PRIVACY_EVENTS = EventRegistry(ErasureRequested, ErasureCompleted)

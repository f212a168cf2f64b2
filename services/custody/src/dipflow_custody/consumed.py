"""What the custody service reads from other services' topics: tolerant views (unknown fields ignored)."""

from __future__ import annotations

from pydantic import ConfigDict

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import PPO_REGISTER


class PpoStatusView(EventPayload):
    """``ppo.status`` v1 from the ppo-register service, as far as custody needs it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type = "ppo.status"
    topic = PPO_REGISTER.name
    borough: str


CONSUMED = EventRegistry(PpoStatusView)

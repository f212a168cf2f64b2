"""What the breach service reads from other services: tolerant views of the types it needs (the PPO register's
``ppo.status`` is read by :mod:`dipflow.ppo_copy`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS


class _View(EventPayload):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BookedInView(_View):
    event_type = "custody.booked_in"
    topic = CUSTODY_EVENTS.name
    detention_id: str
    arrested_at: datetime
    home_area: str


class FailureNotifiedView(_View):
    event_type = "referral.failure_notified"
    topic = REFERRAL_EVENTS.name
    assessment_id: str
    offence: str
    area: str
    outcome: str = "failed_to_attend"  # or failed_to_remain
    what: str | None = None


class BailConditionBreachedView(_View):
    event_type = "referral.bail_condition_breached"
    topic = REFERRAL_EVENTS.name
    detention_id: str
    area: str


class RequirementsEndedView(_View):
    event_type = "referral.requirements_ended"
    topic = REFERRAL_EVENTS.name
    assessment_id: str
    reason: str
    prosecution_dropped: bool = False


CONSUMED = EventRegistry(
    BookedInView,
    FailureNotifiedView,
    BailConditionBreachedView,
    RequirementsEndedView,
    skip_other=("custody.", "referral."),
)

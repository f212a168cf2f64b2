"""What custody reads from referral: tolerant views of the events that tell it whether a required assessment
proposed for a positive result still needs its RA1 served before the person is released (A1)."""

from __future__ import annotations

from pydantic import ConfigDict

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import REFERRAL_EVENTS


class _Requirement(EventPayload):
    model_config = ConfigDict(extra="ignore", frozen=True)
    topic = REFERRAL_EVENTS.name
    assessment_id: str
    detention_id: str


class RequirementProposedView(_Requirement):
    """A required assessment was proposed: RA1 is to serve before release."""

    event_type = "referral.assessment_required"


class RequirementImposedView(_Requirement):
    event_type = "referral.requirement_imposed"


class RequirementLapsedView(_Requirement):
    event_type = "referral.requirement_lapsed"


class RequirementsEndedView(_Requirement):
    event_type = "referral.requirements_ended"


SETTLED = (RequirementImposedView, RequirementLapsedView, RequirementsEndedView)
"""After any of these there is no RA1 left to serve for the assessment."""

REFERRAL = EventRegistry(RequirementProposedView, *SETTLED, skip_other=("referral.",))

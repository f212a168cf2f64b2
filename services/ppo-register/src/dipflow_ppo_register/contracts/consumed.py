"""What the ppo-register service reads from other services' topics: tolerant views (unknown fields ignored),
and only the event types it needs; other custody and referral types are skipped."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS


class _View(EventPayload):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _CustodyView(_View):
    topic = CUSTODY_EVENTS.name
    detention_id: str


class BookedInView(_CustodyView):
    event_type = "custody.booked_in"
    suite: str
    arrested_at: datetime
    home_area: str


class OffenceAddedView(_CustodyView):
    event_type = "custody.offence_added"
    code: str
    trigger_offence: bool
    arrest_power: bool = False


class InspectorDecisionView(_CustodyView):
    event_type = "custody.inspector_decision_recorded"
    decision: str


class ResultRecordedView(_CustodyView):
    event_type = "custody.result_recorded"
    drug: str
    result: str
    home_area: str


class ConfirmatoryResultView(_CustodyView):
    event_type = "custody.confirmatory_result"
    drug: str
    result: str


class ChargedView(_CustodyView):
    event_type = "custody.charged"
    codes: list[str]


class ReleasedView(_CustodyView):
    event_type = "custody.released"
    release: str  # no_further_action | police_bail | charged_and_bailed | remanded


class AttendanceRecordedView(_View):
    """``referral.attendance_recorded`` v1: the assessor's record of attendance (RA3, A4, A5)."""

    event_type = "referral.attendance_recorded"
    topic = REFERRAL_EVENTS.name
    assessment_id: str
    outcome: str  # attended | failed_to_attend | failed_to_remain
    good_cause: bool = False


CONSUMED = EventRegistry(
    BookedInView,
    OffenceAddedView,
    InspectorDecisionView,
    ResultRecordedView,
    ConfirmatoryResultView,
    ChargedView,
    ReleasedView,
    AttendanceRecordedView,
    skip_other=("custody.", "referral."),
)

"""What the referral service reads from custody.events.v1: tolerant views of the types it needs (unknown fields
ignored); other custody types are skipped."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ConfigDict

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_EVENTS


class CustodyFactView(EventPayload):
    """A custody fact about one detention, as referral reads it."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    topic = CUSTODY_EVENTS.name
    detention_id: str
    suite: str


class BookedInView(CustodyFactView):
    event_type = "custody.booked_in"
    arrested_at: datetime
    home_area: str
    age: int
    is_ppo: bool | None = None
    suite_area: str | None = None
    """The borough the suite serves; absent from bookings published before custody carried it."""


class OffenceAddedView(CustodyFactView):
    event_type = "custody.offence_added"
    code: str
    offence_date: date
    drug: str | None = None
    drug_class: str | None = None
    trigger_offence: bool = False


class SampleTakenView(CustodyFactView):
    event_type = "custody.sample_taken"


class ResultView(CustodyFactView):
    event_type = "custody.result_recorded"
    drug: str
    result: str
    disputed: bool
    confirmation_required: bool
    age: int
    home_area: str
    initial_assessment_notified: bool | None = None
    follow_up_assessment_notified: bool | None = None


class ConfirmatoryView(CustodyFactView):
    event_type = "custody.confirmatory_result"
    drug: str
    result: str


class SampleDispatchedView(CustodyFactView):
    event_type = "custody.sample_dispatched"
    drugs: list[str]


class ChargedView(CustodyFactView):
    event_type = "custody.charged"
    codes: list[str]
    restriction_on_bail_notified: bool | None = None
    home_area: str | None = None
    age: int | None = None


class ReleasedView(CustodyFactView):
    event_type = "custody.released"
    release: str
    home_area: str


CONSUMED = EventRegistry(
    BookedInView,
    OffenceAddedView,
    SampleTakenView,
    ResultView,
    ConfirmatoryView,
    ChargedView,
    ReleasedView,
    SampleDispatchedView,
    skip_other=("custody.",),
)

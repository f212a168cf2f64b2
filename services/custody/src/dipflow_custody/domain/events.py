"""What happens in a detention, as the state machine tells it: one typed event per change, with the time it
happened and the facts consumers need. The service layer publishes each as its wire event
(``contracts/events.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, kw_only=True)
class DetentionEvent:
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OffenceAdded(DetentionEvent):
    code: str
    offence_date: date
    attempt: bool
    drug: str | None
    drug_class: str | None
    further_arrest: bool
    trigger_offence: bool
    trigger_reason: str
    arrest_power: bool
    statute: str
    section: str
    title: str
    in_catalogue: bool


@dataclass(frozen=True, kw_only=True)
class OffenceDisposed(DetentionEvent):
    """T9: released for one offence, still detained for the others."""

    code: str
    disposal: str
    still_detained_for: list[str]


@dataclass(frozen=True, kw_only=True)
class Charged(DetentionEvent):
    codes: list[str]


@dataclass(frozen=True, kw_only=True)
class InspectorDecisionRecorded(DetentionEvent):
    decision: str
    by: str
    rank: str
    grounds: str
    oral: bool
    written_confirmation_at: datetime | None
    written_confirmation: str


@dataclass(frozen=True, kw_only=True)
class WrittenConfirmationRecorded(DetentionEvent):
    by: str
    decision_at: datetime


@dataclass(frozen=True, kw_only=True)
class PersonToldOfAuthorisation(DetentionEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class AppropriateAdultPresent(DetentionEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class WarningGiven(DetentionEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class SampleTaken(DetentionEvent):
    sample_type: str
    stage: str
    rule_ids: list[str]
    time_limit: datetime


@dataclass(frozen=True, kw_only=True)
class ResultRecorded(DetentionEvent):
    drug: str
    result: str
    disputed: bool
    medication_declared: str | None
    confirmation_required: bool
    age: int
    home_area: str


@dataclass(frozen=True, kw_only=True)
class SampleDispatched(DetentionEvent):
    drugs: list[str]
    confirmation_due_at: datetime


@dataclass(frozen=True, kw_only=True)
class ConfirmatoryResultRecorded(DetentionEvent):
    drug: str
    result: str


@dataclass(frozen=True, kw_only=True)
class ConfirmationOverdue(DetentionEvent):
    drugs: list[str]
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class RefusalRecorded(DetentionEvent):
    good_cause: bool
    offence: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class Released(DetentionEvent):
    release: str
    home_area: str
    requirements_lapsed: tuple[str, ...] = ()
    """A1: required assessments whose RA1 was not served, lapsing with this release as the officer confirmed."""


@dataclass(frozen=True, kw_only=True)
class DeadlinePassed(DetentionEvent):
    """T10/T9: the time to hold the person for a sample ran out with no sample."""

    deadline: str
    due_at: datetime

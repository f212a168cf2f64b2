"""The events the custody service produces on ``custody.events.v1`` (keyed by person id) and on
``reference.v1`` (the areas and suites its admins manage), and the topics it consumes. Payloads carry ids, codes and facts, never names or dates of birth. ``dipflow schemas`` turns
these into docs/schemas and docs/asyncapi.yaml."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_COMMANDS, CUSTODY_EVENTS, PPO_REGISTER, REFERENCE, REFERRAL_EVENTS
from dipflow.uow import Producer

TOPIC = CUSTODY_EVENTS.name
PRODUCER = Producer("custody", TOPIC)


class _Custody(EventPayload):
    topic = TOPIC
    detention_id: str
    suite: str


class DetentionBookedIn(_Custody):
    """A person was booked into a custody suite."""

    event_type = "custody.booked_in"
    arrested_at: datetime
    home_area: str
    age: int
    is_ppo: bool
    suite_area: str | None = None
    """The borough of the custody suite (where the required assessment is arranged); absent in events recorded
    before it was carried."""


class OffenceAdded(_Custody):
    """An offence was recorded in the detention (on book-in or as a further arrest)."""

    event_type = "custody.offence_added"
    code: str
    offence_date: date
    attempt: bool
    drug: str | None
    drug_class: str | None
    further_arrest: bool
    trigger_offence: bool
    arrest_power: bool = False
    trigger_reason: str | None = None
    statute: str | None = None
    """The provision recorded (T1 decides by it); absent in events recorded before it was carried."""
    section: str | None = None
    title: str | None = None
    in_catalogue: bool = True
    """False: the catalogue does not know the offence; it was recorded as the custody system gave it."""


class OffenceDisposed(_Custody):
    """T9: the person was released (no further action, charged or bailed) for one offence while the detention
    continues for the others."""

    event_type = "custody.offence_disposed"
    code: str
    disposal: str
    still_detained_for: list[str]


class EligibilityDecided(_Custody):
    """The eligibility engine's decision after a change (T1-T8)."""

    event_type = "custody.test_decision_made"
    stage: str
    outcome: str
    rule_ids: list[str]
    reason: str
    appropriate_adult_required: bool


class InspectorDecisionRequested(_Custody):
    """A PPO arrested for a non-trigger offence must be put to an inspector (T4)."""

    event_type = "custody.inspector_decision_requested"
    reason: str


class InspectorDecisionRecorded(_Custody):
    """An inspector authorised or declined a test (T3)."""

    event_type = "custody.inspector_decision_recorded"
    decision: str
    rank: str
    grounds: str
    oral: bool
    written_confirmation_at: datetime | None
    by: str | None = None
    written_confirmation: str | None = None


class WrittenConfirmationRecorded(_Custody):
    """T3: the inspector confirmed an oral decision in writing."""

    event_type = "custody.written_confirmation_recorded"
    by: str
    decision_at: datetime


class PersonToldOfAuthorisation(_Custody):
    """T3: the person was told of the inspector's authorisation and its grounds."""

    event_type = "custody.person_told_of_authorisation"


class AppropriateAdultPresent(_Custody):
    """T5: an appropriate adult is present for the warning, the request and the sample."""

    event_type = "custody.appropriate_adult_present"


class WarningGiven(_Custody):
    """The person was warned that failing to give a sample may be an offence (T6)."""

    event_type = "custody.warning_given"


class SampleTaken(_Custody):
    """A sample was taken (T7, T8)."""

    event_type = "custody.sample_taken"
    sample_type: str
    stage: str
    rule_ids: list[str]
    time_limit: datetime | None = None


class ResultRecorded(_Custody):
    """A result for one drug, with the facts required assessment needs (T12, A1)."""

    event_type = "custody.result_recorded"
    drug: str
    result: str
    disputed: bool
    medication_declared: str | None
    confirmation_required: bool
    age: int
    home_area: str
    initial_assessment_notified: bool | None = None
    follow_up_assessment_notified: bool | None = None


class SampleDispatched(_Custody):
    """T12: the disputed sample was sent for confirmatory analysis; the result is due by
    ``confirmation_due_at`` (and no initial assessment may be set before 5 working days from now, A3)."""

    event_type = "custody.sample_dispatched"
    drugs: list[str]
    confirmation_due_at: datetime


class ConfirmationOverdue(_Custody):
    """T12: the confirmatory result was not received within the working days allowed after dispatch."""

    event_type = "custody.confirmation_overdue"
    drugs: list[str]
    due_at: datetime


class ConfirmatoryResultRecorded(_Custody):
    """The confirmatory analysis of a disputed positive (T12); a negative ends required assessment (A6)."""

    event_type = "custody.confirmatory_result"
    drug: str
    result: str


class RefusalRecorded(_Custody):
    """The person failed to give a sample (T11)."""

    event_type = "custody.refusal_recorded"
    good_cause: bool
    offence: bool
    reason: str


class Charged(_Custody):
    """The person was charged."""

    event_type = "custody.charged"
    codes: list[str]
    restriction_on_bail_notified: bool | None = None
    home_area: str | None = None
    age: int | None = None


class Released(_Custody):
    """The person left custody."""

    event_type = "custody.released"
    release: str
    home_area: str
    requirements_lapsed: list[str] = Field(
        default_factory=list,
        description="A1: required assessments (ids) whose RA1 was not served, lapsing with this release as the "
        "officer confirmed",
    )


class DeadlinePassed(_Custody):
    """The time limit to hold the person for a sample passed with no sample (T9, T10)."""

    event_type = "custody.deadline_passed"
    deadline: str
    due_at: datetime


class NotificationPeriodOut(BaseModel):
    kind: str
    valid_from: date
    valid_to: date | None


class RecordVersionOut(BaseModel):
    """One version of an area or a suite, in force from ``effective_from`` (until the next version's)."""

    model_config = ConfigDict(extra="allow")
    effective_from: date
    recorded_by: str


class ReferenceRecord(EventPayload):
    """An area (a borough and the force covering it, or a force) or a custody suite (its force, borough and
    address) as custody's admins keep it, with its whole history and the place's notifications, on the compacted
    topic ``reference.v1`` keyed ``<kind>:<code>``: every service's copy is the latest record of each key."""

    event_type = "reference.record"
    topic = REFERENCE.name
    kind: Literal["area", "suite"]
    code: str
    versions: list[RecordVersionOut]
    notifications: list[NotificationPeriodOut]


EVENTS = EventRegistry(
    AppropriateAdultPresent,
    ConfirmationOverdue,
    OffenceDisposed,
    PersonToldOfAuthorisation,
    SampleDispatched,
    WrittenConfirmationRecorded,
    DeadlinePassed,
    ConfirmatoryResultRecorded,
    DetentionBookedIn,
    OffenceAdded,
    EligibilityDecided,
    InspectorDecisionRequested,
    InspectorDecisionRecorded,
    WarningGiven,
    SampleTaken,
    ResultRecorded,
    RefusalRecorded,
    Charged,
    Released,
    ReferenceRecord,
)
CONSUMES: list[str] = [CUSTODY_COMMANDS.name, PPO_REGISTER.name, REFERRAL_EVENTS.name]

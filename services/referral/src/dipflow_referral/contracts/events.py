"""The events the referral service produces (one payload model per event type and version) and the topics it
consumes. ``dipflow schemas`` turns them into docs/schemas and docs/asyncapi.yaml.

Clinical content never appears here (A8): events carry attendance outcomes, not what was said."""

from __future__ import annotations

from datetime import date, datetime

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS
from dipflow.uow import Producer

TOPIC = REFERRAL_EVENTS.name
PRODUCER = Producer("referral", TOPIC)


class _Referral(EventPayload):
    topic = TOPIC
    assessment_id: str
    detention_id: str


class AssessmentRequired(_Referral):
    """A positive result made a required assessment possible; an appointment was proposed (A1-A3, A9)."""

    event_type = "referral.assessment_required"
    suite: str
    area: str
    drugs: list[str]
    disputed: bool
    follow_up_notified: bool
    appointment_at: datetime | None
    worker_id: str | None
    rule_ids: list[str]
    reason: str


class WorkerAssigned(_Referral):
    """A worker was given an appointment (A9); ``reassigned`` when it moved from another worker."""

    event_type = "referral.worker_assigned"
    kind: str
    worker_id: str
    appointment_at: datetime
    reassigned: bool = False
    previous_worker_id: str | None = None


class AssignmentUnassigned(_Referral):
    """No worker could take the appointment: the case is in the unassigned queue and managers are alerted."""

    event_type = "referral.assignment_unassigned"
    kind: str
    suite: str
    area: str
    reason: str


class RequirementImposed(_Referral):
    """RA1 served before release: the initial requirement, and the follow-up where notified (A1-A3)."""

    event_type = "referral.requirement_imposed"
    appointment_at: datetime
    place: str
    worker_id: str | None
    follow_up_imposed: bool
    rule_ids: list[str]


class RequirementLapsed(_Referral):
    """Released before it was imposed: the requirement can no longer be imposed (A1)."""

    event_type = "referral.requirement_lapsed"
    reason: str


class AppointmentChanged(_Referral):
    """RA2: a written notice changed the time or place."""

    event_type = "referral.appointment_changed"
    kind: str
    appointment_at: datetime
    place: str
    worker_id: str | None


class AttendanceRecorded(_Referral):
    """RA3: what happened at an appointment. No clinical content (A8)."""

    event_type = "referral.attendance_recorded"
    kind: str
    outcome: str  # attended | failed_to_attend | failed_to_remain
    good_cause: bool
    appointment_at: datetime


class FailureNotified(_Referral):
    """A failure without good cause, notified to the police with what a statement needs (A4, A5)."""

    event_type = "referral.failure_notified"
    kind: str
    outcome: str
    offence: str
    imposed_at: datetime | None
    notice: str
    appointment_at: datetime
    place: str
    worker_id: str | None
    follow_up_ended: bool
    suite: str
    area: str
    rule_ids: list[str]
    what: str | None = None
    """In words: failed to attend, or failed to remain for the whole of, the initial or follow-up assessment."""


class FollowUpDecided(_Referral):
    """At the initial assessment: follow-up not needed (RA5) or its time and place (RA4)."""

    event_type = "referral.follow_up_decided"
    needed: bool
    appointment_at: datetime | None = None
    place: str | None = None
    worker_id: str | None = None


class RequirementsEnded(_Referral):
    """Negative confirmation (A6) or superseded by a court bail condition (A7)."""

    event_type = "referral.requirements_ended"
    reason: str
    prosecution_dropped: bool = False
    rule_ids: list[str]
    person_told: bool = False
    """A6: a notice telling the person the requirements have ended was served."""


class TreatmentEntered(_Referral):
    event_type = "referral.treatment_entered"


class BailNotice(EventPayload):
    """For court and CPS liaison: whether the restriction on bail applies and why (B1-B3)."""

    event_type = "referral.bail_notice"
    topic = TOPIC
    detention_id: str
    area: str
    restriction: str
    rule_ids: list[str]
    reasons: list[str]


class BailOutcomeRecorded(EventPayload):
    event_type = "referral.bail_outcome_recorded"
    topic = TOPIC
    detention_id: str
    outcome: str
    court: str
    decided_on: date


class ConditionAppointmentSet(EventPayload):
    """B3: the appointment the person must attend under a bail condition to undergo assessment: the time and place
    the court set, else the first slot of a worker covering the suite on the first working day after the
    decision (A9); ``worker_id`` None when nobody had room."""

    event_type = "referral.condition_appointment_set"
    topic = TOPIC
    detention_id: str
    area: str
    court: str
    appointment_at: datetime
    place: str
    worker_id: str | None
    set_by_court: bool
    rule_ids: list[str]


class ConditionAttendanceRecorded(EventPayload):
    """B3: what happened at the condition's appointment. No clinical content (A8); a failure without good cause
    is also ``referral.bail_condition_breached`` (B4)."""

    event_type = "referral.condition_attendance_recorded"
    topic = TOPIC
    detention_id: str
    area: str
    outcome: str  # attended | failed_to_attend | failed_to_remain
    good_cause: bool
    appointment_at: datetime
    breached: bool
    rule_ids: list[str]


class BailConditionBreached(EventPayload):
    """B4: a bail condition to undergo assessment was broken; the person may be arrested without warrant."""

    event_type = "referral.bail_condition_breached"
    topic = TOPIC
    detention_id: str
    area: str
    what: str
    rule_ids: list[str]


class BailBreachArrest(EventPayload):
    """B4: arrested for breaking the condition; must be before a justice by ``before_justice_by``."""

    event_type = "referral.bail_breach_arrest"
    topic = TOPIC
    detention_id: str
    arrest_detention_id: str
    arrested_at: datetime
    before_justice_by: datetime
    rule_ids: list[str]


EVENTS = EventRegistry(
    AssessmentRequired,
    WorkerAssigned,
    AssignmentUnassigned,
    RequirementImposed,
    RequirementLapsed,
    AppointmentChanged,
    AttendanceRecorded,
    FailureNotified,
    FollowUpDecided,
    RequirementsEnded,
    TreatmentEntered,
    BailNotice,
    BailOutcomeRecorded,
    ConditionAppointmentSet,
    ConditionAttendanceRecorded,
    BailConditionBreached,
    BailBreachArrest,
)
CONSUMES: list[str] = [CUSTODY_EVENTS.name]

"""The events the breach service produces (one payload model per event type and version) and the topics it
consumes. ``dipflow schemas`` turns them into docs/schemas and docs/asyncapi.yaml."""

from __future__ import annotations

from datetime import date, datetime

from dipflow.events import EventPayload, EventRegistry
from dipflow.topics import BREACH_EVENTS, CUSTODY_EVENTS, PPO_REGISTER, PROBATION_EVENTS, REFERRAL_EVENTS
from dipflow.uow import Producer

TOPIC = BREACH_EVENTS.name
PRODUCER = Producer("breach", TOPIC)


class _Breach(EventPayload):
    topic = TOPIC


class ComplianceDecided(_Breach):
    """The enforcement outcome of a compliance record (D1-D3): recorded, warning, breach or added to a breach."""

    event_type = "breach.compliance_decided"
    order_id: str
    kind: str
    on: date
    decision: str
    rule_ids: list[str]
    reason: str


class WarningIssued(_Breach):
    event_type = "breach.warning_issued"
    order_id: str
    issued_on: date
    reason: str
    rule_ids: list[str]
    text: str | None = None
    """D2: the warning as given: the failure, that it is unacceptable, the 12-month consequence."""


class ProceedingsStarted(_Breach):
    """Breach proceedings must start (D3), with the D4 due dates and whether it is fast-tracked (D5)."""

    event_type = "breach.proceedings_started"
    case_id: str
    order_id: str
    area: str
    failure_on: date
    enforcement_due: date
    hearing_due: date
    ppo: bool
    high_risk: bool
    rule_ids: list[str]
    reason: str


class DeadlinePassed(_Breach):
    """A D4 due date passed with nothing recorded: escalation."""

    event_type = "breach.deadline_passed"
    case_id: str
    deadline: str  # enforcement | hearing
    due: date


class ArrestRequested(_Breach):
    event_type = "breach.arrest_requested"
    request_id: str
    source: str
    source_ref: str
    area: str
    basis: str
    premium: bool
    ppo: bool
    deadline_at: datetime
    rule_ids: list[str]


class ArrestRequestEscalated(_Breach):
    event_type = "breach.arrest_request_escalated"
    request_id: str
    deadline_at: datetime
    premium: bool


class ArrestRequestCancelled(_Breach):
    """The reason for the arrest fell away, e.g. the prosecution for a failure to attend was dropped (A6)."""

    event_type = "breach.arrest_request_cancelled"
    request_id: str
    reason: str
    rule_ids: list[str]


class ArrestMade(_Breach):
    """A custody booking closed the request; time to arrest is measured (D6)."""

    event_type = "breach.arrest_made"
    request_id: str
    source: str
    arrested_at: datetime
    detention_id: str
    hours_to_arrest: float
    within_target: bool


class NotificationDeadLettered(_Breach):
    """A notification to probation liaison was not accepted after the last attempt (still in the feed)."""

    event_type = "breach.notification_dead_lettered"
    notification_id: str
    area: str
    attempts: int
    last_error: str


EVENTS = EventRegistry(
    ComplianceDecided,
    WarningIssued,
    ProceedingsStarted,
    DeadlinePassed,
    ArrestRequested,
    ArrestRequestEscalated,
    ArrestRequestCancelled,
    ArrestMade,
    NotificationDeadLettered,
)
CONSUMES: list[str] = [PROBATION_EVENTS.name, REFERRAL_EVENTS.name, CUSTODY_EVENTS.name, PPO_REGISTER.name]

"""What a changed required assessment commits in its unit of work: the document (versioned), each of its events on
``referral.events.v1``, the written notice each serves (RA1-RA5, A6) and the attendances (RA3, counted by K4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dipflow.events import EventPayload
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import assessments
from dipflow_referral.contracts import events as wire
from dipflow_referral.domain import events
from dipflow_referral.domain.assessment import RequiredAssessment
from dipflow_referral.domain.notices import text_of
from dipflow_referral.service_layer import clocks


async def commit(
    uow: UnitOfWork, a: RequiredAssessment, version: int, area: str, changes: Sequence[events.AssessmentEvent]
) -> None:
    await assessments.save(uow, a, version)
    payloads: list[tuple[EventPayload, datetime]] = []
    for event in changes:
        payloads.append((wire_event(a, area, event), event.at))
        text = text_of(event)
        if event.notice and text:
            await assessments.serve_notice(uow, a.case_id, event.notice, event.at, text)
        if isinstance(event, events.AttendanceRecorded):
            await assessments.record_attendance(uow, a.case_id, event)
    await uow.emit(a.person_id, payloads)
    await clocks.keep_time(uow, a, changes)


def wire_event(a: RequiredAssessment, area: str, event: events.AssessmentEvent) -> EventPayload:
    """The wire event of a domain event. Clinical content has no field to go in (A8)."""
    ids = {"assessment_id": a.case_id, "detention_id": a.detention_id}
    rule_ids = list(event.rule_ids)
    match event:
        case events.RequirementImposed():
            return wire.RequirementImposed(
                **ids,
                appointment_at=event.appointment_at,
                place=event.place,
                worker_id=event.worker_id,
                follow_up_imposed=event.follow_up_imposed,
                rule_ids=rule_ids,
            )
        case events.RequirementLapsed():
            return wire.RequirementLapsed(**ids, reason=event.reason)
        case events.AppointmentChanged():
            return wire.AppointmentChanged(
                **ids,
                kind=str(event.kind),
                appointment_at=event.appointment_at,
                place=event.place,
                worker_id=event.worker_id,
            )
        case events.AttendanceRecorded():
            return wire.AttendanceRecorded(
                **ids,
                kind=str(event.kind),
                outcome=str(event.outcome),
                good_cause=event.good_cause,
                appointment_at=event.appointment_at,
            )
        case events.FailureNotified():
            return wire.FailureNotified(
                **ids,
                kind=str(event.kind),
                outcome=str(event.outcome),
                offence=event.offence,
                imposed_at=event.imposed_at,
                notice=event.requirement_notice,
                appointment_at=event.appointment_at,
                place=event.place,
                worker_id=event.worker_id,
                follow_up_ended=event.follow_up_ended,
                suite=a.suite,
                area=area,
                rule_ids=rule_ids,
                what=event.what,
            )
        case events.FollowUpDecided():
            return wire.FollowUpDecided(
                **ids,
                needed=event.needed,
                appointment_at=event.appointment_at,
                place=event.place,
                worker_id=event.worker_id,
            )
        case events.RequirementsEnded():
            return wire.RequirementsEnded(
                **ids,
                reason=event.reason,
                prosecution_dropped=event.prosecution_dropped,
                rule_ids=rule_ids,
                person_told=event.notice == "A6",
            )
        case events.TreatmentEntered():
            return wire.TreatmentEntered(**ids)
    raise TypeError(f"no wire event for {type(event).__name__}")

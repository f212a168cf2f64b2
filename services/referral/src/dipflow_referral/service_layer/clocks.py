"""Referral's clocks (docs/rules.md A4, A5, A9, B3, B4), each raising an alert to the person who must act:

- an appointment the person must attend whose time has passed (after a grace period) with no attendance recorded:
  to the assigned worker, escalated to the area's referral managers if still open after a while; the same for
  the appointment under a bail condition to undergo assessment (B3);
- a failure at that appointment without good cause (the breach, B4): to the area's court liaison at once;
- an appointment nobody could take (no worker free): to the area's referral managers at once, escalated if still
  unassigned a set time before it.

Times are the facts' own: the clock of an appointment runs from the appointment's time, whenever the timer or the
message that tells us happens to run. Timers and events raise, escalate and resolve each alert exactly once. An
answer resolves the alert and leaves the clock's timers alone: each timer finds the case answered (or its alert
resolved) and does nothing, and no request waits for a timer's locked row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dipflow.alerts import store as alerts
from dipflow.alerts.model import Alert, RaiseAlert
from dipflow.auth.principal import Role
from dipflow.events.timers import Deadline, DeadlineHandler
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import assessments, bail_cases
from dipflow_referral.domain import events
from dipflow_referral.domain.assessment import Appointment, Kind, RequiredAssessment, failure_rule
from dipflow_referral.domain.bail import BailCase

APPOINTMENT_PASSED = "appointment-passed"
ATTENDANCE_OVERDUE = "attendance-overdue"
UNASSIGNED = "appointment-unassigned"
ESCALATION = "referral-alert-escalation"
BEFORE_JUSTICE = "before-a-justice"
CONDITION_PASSED = "condition-appointment-passed"
CONDITION_OVERDUE = "condition-attendance-overdue"
CONDITION_FAILED = "bail-condition-failed"
ESCALATE_TO = {
    ATTENDANCE_OVERDUE: Role.referral_manager,
    CONDITION_OVERDUE: Role.referral_manager,
    UNASSIGNED: Role.referral_manager,
    BEFORE_JUSTICE: Role.court_liaison,
}
"""Who an alert nobody resolved goes to (the same role, marked escalated, for the court's time limit)."""
ANSWERS = (
    events.AttendanceRecorded,
    events.FailureNotified,
    events.RequirementLapsed,
    events.RequirementsEnded,
)
"""The events after which an appointment no longer waits for its attendance."""
TIMED = (events.RequirementImposed, events.AppointmentChanged, events.FollowUpDecided)
"""The events that set or move the time of an appointment the person must attend (RA1, RA2, RA4): only they
start or move its clock, so other changes write no timer."""


@dataclass(frozen=True)
class ClockPolicy:
    attendance_grace: timedelta
    overdue_escalation_after: timedelta
    unassigned_escalation_before: timedelta


def _subject(a: RequiredAssessment, kind: Kind) -> str:
    return f"{a.case_id}:{kind}"


async def keep_time(
    uow: UnitOfWork, a: RequiredAssessment, changes: Sequence[events.AssessmentEvent]
) -> None:
    """After a change of ``a``: each appointment the person must attend has its clock at its time; one no longer
    waiting has none, and its alerts (overdue, or nobody free to take it) are resolved by the change that answered
    it."""
    waiting = a.waiting_appointments()
    answered = any(isinstance(e, ANSWERS) for e in changes)
    timed = any(isinstance(e, TIMED) for e in changes)
    resolved: list[tuple[str, str]] = []
    for kind in Kind:
        subject = _subject(a, kind)
        appointment = waiting.get(kind)
        if appointment is not None:
            if timed:
                await uow.schedule(
                    APPOINTMENT_PASSED, subject, appointment.at, {"at": appointment.at.isoformat()}
                )
        elif answered:
            resolved += [(kind_of_alert, subject) for kind_of_alert in (ATTENDANCE_OVERDUE, UNASSIGNED)]
    if resolved:
        await alerts.resolve_all(uow, resolved, resolution=f"the requirement is {a.status}")


async def _waiting(
    uow: UnitOfWork, deadline: Deadline
) -> tuple[RequiredAssessment, str, Kind, Appointment] | None:
    case_id, _, kind_text = deadline.subject.rpartition(":")
    found = await assessments.peek(uow, case_id)
    if found is None:
        return None
    a, area = found
    kind = Kind(kind_text)
    appointment = a.waiting_appointments().get(kind)
    if appointment is None or appointment.at.isoformat() != deadline.payload.get("at"):
        return None  # attended, failed, ended or moved since: its own clock runs
    return a, area, kind, appointment


def _condition_subject(case: BailCase) -> str:
    return f"{case.detention_id}:condition"


async def _condition_waiting(uow: UnitOfWork, deadline: Deadline) -> BailCase | None:
    """B3: the case whose condition's appointment, at the deadline's time, still waits for its attendance."""
    detention_id, _, _ = deadline.subject.rpartition(":")
    case = await bail_cases.load(uow, detention_id)
    if case is None or not case.awaits_condition_attendance or case.condition_appointment_at is None:
        return None
    if case.condition_appointment_at.isoformat() != deadline.payload.get("at"):
        return None
    return case


def timers(policy: ClockPolicy) -> dict[str, DeadlineHandler]:
    """The timer handlers of referral's clocks, with the settings' periods."""

    async def appointment_passed(uow: UnitOfWork, deadline: Deadline) -> None:
        if await _waiting(uow, deadline) is None:
            return
        at = datetime.fromisoformat(deadline.payload["at"])
        await uow.schedule(
            ATTENDANCE_OVERDUE, deadline.subject, at + policy.attendance_grace, deadline.payload
        )

    async def attendance_overdue(uow: UnitOfWork, deadline: Deadline) -> None:
        found = await _waiting(uow, deadline)
        if found is None:
            return
        a, area, kind, appointment = found
        worker = appointment.worker_id

        async def escalate_later(raised: Alert | None) -> None:
            if raised is not None and worker is not None:
                due = datetime.now(UTC) + policy.overdue_escalation_after
                await uow.schedule(ESCALATION, f"{ATTENDANCE_OVERDUE}|{deadline.subject}", due)

        await alerts.raise_alert(
            uow,
            RaiseAlert(
                kind=ATTENDANCE_OVERDUE,
                subject=deadline.subject,
                role=str(Role.referral_worker if worker else Role.referral_manager),
                area=area,
                assignee=worker,
                due_at=appointment.at + policy.attendance_grace,
                summary=f"The {kind} appointment of {appointment.at:%d %b %Y %H:%M} has passed with no attendance "
                "recorded: record whether the person attended (RA3).",
                rule_ids=(failure_rule(kind), "A3"),
                person_id=a.person_id,
                case_id=a.case_id,
            ),
            then=escalate_later,
        )

    async def unassigned(uow: UnitOfWork, deadline: Deadline) -> None:
        """The escalation of an unassigned appointment, for the deadlines that scheduled it from a timer (before
        :func:`nobody_free` scheduled it itself)."""
        at = datetime.fromisoformat(deadline.payload["at"])
        escalate_at = max(at - policy.unassigned_escalation_before, datetime.now(UTC))
        await uow.schedule(ESCALATION, f"{UNASSIGNED}|{deadline.subject}", escalate_at)

    async def condition_passed(uow: UnitOfWork, deadline: Deadline) -> None:
        if await _condition_waiting(uow, deadline) is None:
            return
        at = datetime.fromisoformat(deadline.payload["at"])
        await uow.schedule(
            CONDITION_OVERDUE, deadline.subject, at + policy.attendance_grace, deadline.payload
        )

    async def condition_overdue(uow: UnitOfWork, deadline: Deadline) -> None:
        case = await _condition_waiting(uow, deadline)
        if case is None:
            return
        assert case.condition_appointment_at is not None
        worker = case.condition_worker_id

        async def escalate_later(raised: Alert | None) -> None:
            if raised is not None and worker is not None:
                due = datetime.now(UTC) + policy.overdue_escalation_after
                await uow.schedule(ESCALATION, f"{CONDITION_OVERDUE}|{deadline.subject}", due)

        await alerts.raise_alert(
            uow,
            RaiseAlert(
                kind=CONDITION_OVERDUE,
                subject=deadline.subject,
                role=str(Role.referral_worker if worker else Role.referral_manager),
                area=case.area,
                assignee=worker,
                due_at=case.condition_appointment_at + policy.attendance_grace,
                summary=f"The assessment of {case.condition_appointment_at:%d %b %Y %H:%M} under a bail condition "
                "has passed with no attendance recorded: record whether the person attended (B3); a failure "
                "without good cause breaks the condition (B4).",
                rule_ids=("B3",),
                person_id=case.person_id,
                case_id=case.detention_id,
            ),
            then=escalate_later,
        )

    async def escalation(uow: UnitOfWork, deadline: Deadline) -> None:
        kind, _, subject = deadline.subject.partition("|")
        await alerts.escalate(uow, kind, subject, to_role=str(ESCALATE_TO[kind]))

    return {
        APPOINTMENT_PASSED: appointment_passed,
        ATTENDANCE_OVERDUE: attendance_overdue,
        UNASSIGNED: unassigned,
        CONDITION_PASSED: condition_passed,
        CONDITION_OVERDUE: condition_overdue,
        ESCALATION: escalation,
    }


async def nobody_free(
    uow: UnitOfWork,
    a: RequiredAssessment,
    area: str,
    kind: Kind,
    appointment: Appointment,
    escalate_before: timedelta,
) -> None:
    """A9: no worker could take the appointment: the area's managers are told at once, and again (escalated)
    ``escalate_before`` it if it is still unassigned; when that time has passed already, escalated in the same
    transaction once its batch's events are all handled (no timer to wait for)."""
    subject = _subject(a, kind)

    async def escalate_later(raised: Alert | None) -> None:
        if raised is None:
            return
        escalate_at = appointment.at - escalate_before
        if escalate_at > datetime.now(UTC):
            await uow.schedule(ESCALATION, f"{UNASSIGNED}|{subject}", escalate_at)
        else:
            await uow.at_end((ESCALATION, UNASSIGNED), (uow, subject), _escalate_unassigned)

    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=UNASSIGNED,
            subject=subject,
            role=str(Role.referral_manager),
            area=area,
            due_at=appointment.at,
            summary=f"No worker covering {a.suite} has room for the {kind} appointment of "
            f"{appointment.at:%d %b %Y %H:%M}: assign one (A9).",
            rule_ids=("A9",),
            person_id=a.person_id,
            case_id=a.case_id,
        ),
        then=escalate_later,
    )


async def _escalate_unassigned(items: list[tuple[UnitOfWork, str]]) -> None:
    """The escalations of unassigned appointments already due (A9), once the batch's events are all handled
    (an alert its later events answered, assigned, attended or lapsed, is resolved and stays so), in one round
    trip."""
    works = [(uow, UNASSIGNED, subject) for uow, subject in items]
    await alerts.escalate_all(works, to_role=str(ESCALATE_TO[UNASSIGNED]))


async def someone_took(uow: UnitOfWork, a: RequiredAssessment, kind: Kind, worker_id: str) -> None:
    """A queued appointment found a worker: the managers' alert about it is resolved."""
    subject = _subject(a, kind)
    await alerts.resolve(uow, UNASSIGNED, subject, resolution=f"assigned to {worker_id}")


async def condition_appointment_set(uow: UnitOfWork, case: BailCase) -> None:
    """B3: the condition's appointment has its clock at its time."""
    assert case.condition_appointment_at is not None
    at = case.condition_appointment_at
    await uow.schedule(CONDITION_PASSED, _condition_subject(case), at, {"at": at.isoformat()})


async def condition_attendance_recorded(uow: UnitOfWork, case: BailCase) -> None:
    """B3: attendance at the condition's appointment is recorded: the clock's alert (if raised) is answered."""
    resolution = f"attendance recorded: {case.condition_attendance}"
    await alerts.resolve(uow, CONDITION_OVERDUE, _condition_subject(case), resolution=resolution)


async def condition_failed(uow: UnitOfWork, case: BailCase, what: str) -> None:
    """B3/B4: the person failed the condition's appointment without good cause: court liaison are told at once;
    breach asks for an arrest without warrant (BA76 s.7(3)); the arrest resolves the alert."""
    assert case.breached_at is not None
    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=CONDITION_FAILED,
            subject=case.detention_id,
            role=str(Role.court_liaison),
            area=case.area,
            due_at=case.breached_at,
            summary=f"The bail condition to undergo assessment is broken: {what}. The person may be arrested "
            "without warrant (BA76 s.7(3)); an arrest is requested.",
            rule_ids=("B3", "B4"),
            person_id=case.person_id,
            case_id=case.detention_id,
        ),
    )


async def arrested_for_breach(
    uow: UnitOfWork, case: BailCase, arrest_detention_id: str, by: datetime
) -> None:
    """B4: arrested for breaking the bail condition: court liaison must see the person before a justice by
    ``by`` (24 hours, not counting Sundays, Christmas Day and Good Friday); escalated if it passes unresolved."""
    subject = f"{case.detention_id}:{arrest_detention_id}"

    async def escalate_at_the_limit(raised: Alert | None) -> None:
        if raised is not None:
            await uow.schedule(ESCALATION, f"{BEFORE_JUSTICE}|{subject}", by)

    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=BEFORE_JUSTICE,
            subject=subject,
            role=str(Role.court_liaison),
            area=case.area,
            due_at=by,
            summary=f"Arrested for breaking the bail condition to undergo assessment: before a justice by "
            f"{by:%d %b %Y %H:%M} (BA76 s.7(4)).",
            rule_ids=("B4",),
            person_id=case.person_id,
            case_id=case.detention_id,
        ),
        then=escalate_at_the_limit,
    )
    await alerts.resolve(
        uow, CONDITION_FAILED, case.detention_id, resolution=f"arrested ({arrest_detention_id})"
    )

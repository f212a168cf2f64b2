"""Required assessments (A1-A7, A9): opened by a positive result, moved by custody's facts, and the steps staff
take (impose, change, attendance, follow-up, treatment, assignment). Each is one unit of work: load (locked),
check the caller may act on it, decide, save, events, notices, audit."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from dipflow.errors import NotFound, RuleViolation
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_referral.adapters import assessments, detentions
from dipflow_referral.adapters.assessments import Loaded
from dipflow_referral.contracts import events as wire
from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    Outcome,
    PositiveResult,
    RequiredAssessment,
    Status,
    requirement_for,
)
from dipflow_referral.domain.assignment import AppointmentPolicy, first_slot_from, window
from dipflow_referral.domain.events import AssessmentEvent
from dipflow_referral.service_layer import assignment, recording

AccessCheck = Callable[[RequiredAssessment, str], None]
"""Refuses (403) a caller who may not act on the assessment (in its area)."""


def _by(uow: UnitOfWork) -> str:
    assert uow.actor is not None, "a person does this"
    return uow.actor.subject


async def load_checked(uow: UnitOfWork, assessment_id: str, check: AccessCheck) -> Loaded:
    """The assessment, locked, once ``check`` let the caller act on it."""
    loaded = await assessments.load(uow, assessment_id=assessment_id)
    if loaded is None:
        raise NotFound("required assessment", assessment_id)
    check(loaded.assessment, loaded.area)
    return loaded


async def _commit(uow: UnitOfWork, loaded: Loaded, changes: Sequence[AssessmentEvent]) -> None:
    await recording.commit(uow, loaded.assessment, loaded.version, loaded.area, changes)


# -- custody's facts -----------------------------------------------------------------------------------------------


async def read_ahead(uow: UnitOfWork, detention_ids: Collection[str]) -> None:
    """The assessments of ``detention_ids`` read and locked at once, for the facts of a consumer's batch."""
    await assessments.read_ahead(uow, detention_ids)


async def on_positive(uow: UnitOfWork, result: PositiveResult, policy: AppointmentPolicy) -> None:
    """A1: a positive result that makes a required assessment possible opens one, with an appointment proposed
    and assigned (A3, A9); a further positive joins the detention's open one."""
    loaded = await assessments.load(uow, detention_id=result.detention_id)
    if loaded is not None:
        if loaded.assessment.another_positive(result.drug, result.disputed):
            await assessments.save(uow, loaded.assessment, loaded.version)
        return
    detention = await detentions.load(uow, result.detention_id)
    a = requirement_for(result, released=detention is not None and detention.released_at is not None)
    if a is None:
        return
    proposal = await assignment.propose_initial(uow, a, policy)
    a.propose_initial(proposal, policy)
    assert a.initial is not None
    area = (detention.suite_area if detention else None) or result.home_area
    await assessments.insert(uow, a, area)
    required = wire.AssessmentRequired(
        assessment_id=a.case_id,
        detention_id=a.detention_id,
        suite=a.suite,
        area=area,
        drugs=sorted(a.positive_drugs),
        disputed=result.disputed,
        follow_up_notified=result.follow_up_notified,
        appointment_at=a.initial.at,
        worker_id=a.initial.worker_id,
        rule_ids=list(proposal.rule_ids),
        reason=proposal.reason,
    )
    await uow.emit(a.person_id, [(required, result.at)])
    await assignment.announce(uow, a, area, Kind.initial, a.initial, result.at, policy=policy)


async def on_confirmed_negative(uow: UnitOfWork, detention_id: str, drug: str, at: datetime) -> None:
    """A6: the confirmation of a disputed result found no drug."""
    loaded = await assessments.load(uow, detention_id=detention_id)
    if loaded is None:
        return
    ended = loaded.assessment.confirmed_negative(drug, at)
    await _commit(uow, loaded, [ended] if ended else [])


async def on_sample_dispatched(
    uow: UnitOfWork, detention_id: str, at: datetime, policy: AppointmentPolicy
) -> None:
    """T12/A3: the disputed sample was sent for confirmation: no initial appointment before the working days
    from the dispatch; a waiting appointment before that is moved (a proposal re-proposed, an imposed one
    changed by RA2)."""
    loaded = await assessments.load(uow, detention_id=detention_id)
    if loaded is None:
        return
    a = loaded.assessment
    a.sample_dispatched(at, window(at, True, policy)[0])
    if not a.initial_too_early():
        await assessments.save(uow, a, loaded.version)
        return
    assert a.initial is not None
    proposal = await assignment.propose_initial(uow, a, policy, exclude_assessment=a.case_id)
    previous = a.initial.worker_id
    new_at = proposal.at or first_slot_from(a.earliest_day or london_day(at), policy)
    changed = a.move_initial(new_at, proposal.worker_id, at)
    await _commit(uow, loaded, [changed] if changed else [])
    if proposal.worker_id != previous or proposal.worker_id is None:
        await assignment.announce(uow, a, loaded.area, Kind.initial, a.initial, at, previous, policy=policy)


async def on_released(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    """A1: released before it was imposed, the requirement lapses."""
    loaded = await assessments.load(uow, detention_id=detention_id)
    if loaded is None:
        return
    lapsed = loaded.assessment.release(at)
    await _commit(uow, loaded, [lapsed] if lapsed else [])


async def on_bail_condition(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    """A7: the court imposed a bail condition to undergo assessment."""
    loaded = await assessments.load(uow, detention_id=detention_id)
    if loaded is None:
        return
    ended = loaded.assessment.superseded_by_bail_condition(at)
    if ended is not None:
        await _commit(uow, loaded, [ended])


# -- reading -------------------------------------------------------------------------------------------------------


async def peek(uow: UnitOfWork, assessment_id: str) -> tuple[RequiredAssessment, str]:
    """The assessment and its area, unlocked: to decide who may act on it."""
    found = await assessments.peek(uow, assessment_id)
    if found is None:
        raise NotFound("required assessment", assessment_id)
    return found


async def of_detention(uow: UnitOfWork, detention_id: str) -> RequiredAssessment | None:
    """The detention's assessment, unlocked (who may act on the detention's bail case)."""
    return await assessments.of_detention(uow, detention_id)


async def read(uow: UnitOfWork, assessment_id: str, check: AccessCheck, *, purpose: str | None) -> Loaded:
    """One assessment; the read is audited with what its positive drugs are read for (T13), when they are."""
    loaded = await load_checked(uow, assessment_id, check)
    detail = {"assessment_id": assessment_id, **({"purpose": purpose} if purpose else {})}
    await uow.audit("assessment.read", loaded.assessment.person_id, detail)
    return loaded


async def in_area(
    uow: UnitOfWork, area: str, status: Status | None, *, purpose: str | None
) -> list[tuple[RequiredAssessment, str]]:
    found = await assessments.in_area(uow, area, status)
    detail = {"area": area, "returned": len(found), **({"purpose": purpose} if purpose else {})}
    await uow.audit("assessments.list", detail=detail)
    return found


async def notices(uow: UnitOfWork, assessment_id: str, check: AccessCheck) -> list[assessments.Notice]:
    """RA1-RA5 and A6 as served, printable."""
    await load_checked(uow, assessment_id, check)
    return await assessments.notices(uow, assessment_id)


# -- steps staff take ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Impose:
    assessment_id: str
    at: datetime
    place: str | None = None
    appointment_at: datetime | None = None
    """Another time than the one proposed."""


async def impose(uow: UnitOfWork, cmd: Impose, check: AccessCheck, policy: AppointmentPolicy) -> Loaded:
    """RA1 (A1-A3). A9: a time the officer chose, or one where none was proposed, goes to whoever covering the
    suite can take it that day, the proposed worker first."""
    loaded = await load_checked(uow, cmd.assessment_id, check)
    a = loaded.assessment
    before = a.initial
    proposed_worker = before.worker_id if before else None
    imposed = a.impose(cmd.at, cmd.place or policy.default_place, cmd.appointment_at)
    assert a.initial is not None
    if before is None or (cmd.appointment_at is not None and cmd.appointment_at != before.at):
        slot = await assignment.slot_on_day(
            uow,
            a.suite,
            london_day(a.initial.at),
            policy,
            prefer=proposed_worker,
            exclude_assessment=a.case_id,
        )
        a.initial.worker_id = slot.worker_id if slot else None
        imposed = replace(imposed, worker_id=a.initial.worker_id)
        if a.initial.worker_id != proposed_worker:
            await assignment.announce(
                uow, a, loaded.area, Kind.initial, a.initial, cmd.at, proposed_worker, policy=policy
            )
    await _commit(uow, loaded, [imposed])
    await uow.audit("assessment.impose", a.person_id, {"assessment_id": cmd.assessment_id})
    return loaded


@dataclass(frozen=True)
class ChangeAppointment:
    assessment_id: str
    kind: Kind
    appointment_at: datetime
    place: str


async def change_appointment(uow: UnitOfWork, cmd: ChangeAppointment, check: AccessCheck) -> Loaded:
    """RA2: a new time or place, checked as A3 says."""
    loaded = await load_checked(uow, cmd.assessment_id, check)
    a = loaded.assessment
    changed = a.change_appointment(cmd.kind, datetime.now(UTC), cmd.appointment_at, cmd.place)
    await _commit(uow, loaded, [changed])
    await uow.audit("assessment.change", a.person_id, {"assessment_id": cmd.assessment_id})
    return loaded


@dataclass(frozen=True)
class RecordAttendance:
    assessment_id: str
    kind: Kind
    outcome: Outcome
    good_cause: bool = False
    at: datetime | None = None
    clinical_note: str | None = None
    """A8: kept with the assessment's notes for assessment staff; never in an event."""


async def record_attendance(uow: UnitOfWork, cmd: RecordAttendance, check: AccessCheck) -> Loaded:
    """RA3 (A4, A5): a failure without good cause is notified to the police."""
    loaded = await load_checked(uow, cmd.assessment_id, check)
    a = loaded.assessment
    recorded = a.record_attendance(cmd.kind, cmd.outcome, cmd.good_cause, cmd.at or datetime.now(UTC))
    await _commit(uow, loaded, recorded)
    if cmd.clinical_note:
        await assessments.add_note(uow, a.case_id, _by(uow), cmd.clinical_note)
    detail = {"assessment_id": cmd.assessment_id, "outcome": str(cmd.outcome)}
    await uow.audit("assessment.attendance", a.person_id, detail)
    return loaded


@dataclass(frozen=True)
class DecideFollowUp:
    assessment_id: str
    needed: bool
    appointment_at: datetime | None = None
    place: str | None = None


async def decide_follow_up(
    uow: UnitOfWork, cmd: DecideFollowUp, check: AccessCheck, policy: AppointmentPolicy
) -> Loaded:
    """RA4 or RA5 (A5). A9: the follow-up stays with the initial worker where they have room that day."""
    loaded = await load_checked(uow, cmd.assessment_id, check)
    a = loaded.assessment
    now = datetime.now(UTC)
    appointment = None
    if cmd.needed:
        if cmd.appointment_at is None:
            raise RuleViolation("A5", "a follow-up needs a time and place (RA4)")
        initial_worker = a.initial.worker_id if a.initial else None
        slot = await assignment.slot_on_day(
            uow, a.suite, london_day(cmd.appointment_at), policy, prefer=initial_worker
        )
        place = cmd.place or policy.default_place
        appointment = Appointment(cmd.appointment_at, place, slot.worker_id if slot else None)
    decided = a.decide_follow_up(now, cmd.needed, appointment)
    await _commit(uow, loaded, [decided])
    if appointment is not None:
        await assignment.announce(uow, a, loaded.area, Kind.follow_up, appointment, now, policy=policy)
    await uow.audit("assessment.follow_up", a.person_id, {"needed": cmd.needed})
    return loaded


async def entered_treatment(uow: UnitOfWork, assessment_id: str, check: AccessCheck) -> Loaded:
    """K4: the person entered treatment."""
    loaded = await load_checked(uow, assessment_id, check)
    a = loaded.assessment
    await _commit(uow, loaded, [a.entered_treatment(datetime.now(UTC))])
    await uow.audit("assessment.treatment", a.person_id, {"assessment_id": assessment_id})
    return loaded


@dataclass(frozen=True)
class Assign:
    assessment_id: str
    kind: Kind
    worker_id: str


async def assign(uow: UnitOfWork, cmd: Assign, check: AccessCheck, policy: AppointmentPolicy) -> Loaded:
    """A9: a manager gives a queued (or any waiting) appointment to a named worker, if that worker covers the
    suite, works that day and has room."""
    loaded = await load_checked(uow, cmd.assessment_id, check)
    a = loaded.assessment
    appointment = a.for_a_manager_to_assign(cmd.kind)
    slot = await assignment.slot_on_day(
        uow, a.suite, london_day(appointment.at), policy, prefer=cmd.worker_id
    )
    if slot is None or slot.worker_id != cmd.worker_id:
        raise RuleViolation("A9", "that worker does not cover the suite, is away or has no room that day")
    previous = appointment.worker_id
    appointment.worker_id = cmd.worker_id
    await assessments.save(uow, a, loaded.version)
    now = datetime.now(UTC)
    await assignment.announce(
        uow, a, loaded.area, cmd.kind, appointment, now, previous, policy=policy, from_queue=previous is None
    )
    await uow.audit("assessment.assign", a.person_id, {"worker_id": cmd.worker_id})
    return loaded

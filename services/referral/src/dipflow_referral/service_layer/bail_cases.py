"""Restriction on bail (B1-B4): a case opens when a detention with a positive result is charged; B1 is decided
again whenever its facts change, and court and CPS liaison are told when the answer (or its reasons) changes;
the court's outcome (B2, B3; A7 for the requirements), the appointment under a condition to undergo assessment
and the person's attendance at it (B3), a breach of the condition and the arrest for it (B4): a failure at the
appointment without good cause is the breach, with nobody typing it in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dipflow.errors import NotFound, RuleViolation
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day, next_working_day
from dipflow_referral.adapters import bail_cases, detentions
from dipflow_referral.contracts import events as wire
from dipflow_referral.domain.assessment import RequiredAssessment
from dipflow_referral.domain.assignment import AppointmentPolicy, first_slot_from
from dipflow_referral.domain.bail import BailCase, CourtOutcome, Restriction
from dipflow_referral.domain.detention import Detention
from dipflow_referral.domain.events import Outcome
from dipflow_referral.service_layer import assessments, assignment, clocks

AreaCheck = Callable[[str], None]
"""Refuses (403) a case of an area the caller does not cover."""


async def _locked(uow: UnitOfWork, detention_id: str, check_area: AreaCheck) -> BailCase:
    case = await bail_cases.load(uow, detention_id, lock=True)
    if case is None:
        raise NotFound("restriction-on-bail case", detention_id)
    check_area(case.area)
    return case


async def _decide(uow: UnitOfWork, case: BailCase, detention: Detention | None, at: datetime) -> None:
    """B1 on the detention's facts once charged; a decision other than pending goes to court and CPS liaison."""
    if detention is None or detention.charged_at is None:
        return
    decision = case.decide(detention, at)
    if decision is None or decision.restriction is Restriction.pending:
        return
    notice = wire.BailNotice(
        detention_id=case.detention_id,
        area=case.area,
        restriction=str(decision.restriction),
        rule_ids=list(decision.rule_ids),
        reasons=list(decision.reasons),
    )
    await uow.emit(case.person_id, [(notice, at)])


async def reevaluate(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    """B1 after a custody fact: a charged detention with a positive result opens its case."""
    detention = await detentions.load(uow, detention_id)
    if detention is None or detention.charged_at is None:
        return
    case = await bail_cases.load(uow, detention_id, lock=True)
    if case is None:
        if not detention.positive_drugs:
            return
        case = BailCase(detention_id, detention.person_id, detention.area)
        await bail_cases.insert(uow, case)
    before = (case.restriction, case.reasons)
    await _decide(uow, case, detention, at)
    if (case.restriction, case.reasons) != before:
        await bail_cases.save(uow, case)


async def access_facts(
    uow: UnitOfWork, detention_id: str
) -> tuple[BailCase | None, RequiredAssessment | None]:
    """The case and the person's required assessment in the detention, unlocked: to decide who may act on it."""
    case = await bail_cases.load(uow, detention_id)
    return case, await assessments.of_detention(uow, detention_id)


async def in_area(uow: UnitOfWork, area: str) -> list[BailCase]:
    found = await bail_cases.in_area(uow, area)
    await uow.audit("bail_cases.list", detail={"area": area, "returned": len(found)})
    return found


@dataclass(frozen=True)
class Agreement:
    detention_id: str
    agreed: bool
    substantial_grounds: bool | None
    at: datetime


async def record_agreement(uow: UnitOfWork, cmd: Agreement, check_area: AreaCheck) -> BailCase:
    """B1: whether the person agreed to an assessment (and the grounds), then B1 decided again."""
    case = await _locked(uow, cmd.detention_id, check_area)
    case.record_agreement(cmd.agreed, cmd.substantial_grounds)
    await _decide(uow, case, await detentions.load(uow, cmd.detention_id), cmd.at)
    await bail_cases.save(uow, case)
    await uow.audit("bail.agreement", case.person_id, {"agreed": cmd.agreed})
    return case


@dataclass(frozen=True)
class CourtDecision:
    detention_id: str
    outcome: CourtOutcome
    court: str
    decided_on: date
    at: datetime
    appointment_at: datetime | None = None
    """B3: the condition's appointment when the court set it; else the first free slot after the decision."""
    place: str | None = None


async def record_outcome(
    uow: UnitOfWork, cmd: CourtDecision, check_area: AreaCheck, policy: AppointmentPolicy
) -> BailCase:
    """B2: the court's decision, once; bail with a condition to undergo assessment ends the requirements (A7) and
    sets the condition's appointment (B3)."""
    case = await _locked(uow, cmd.detention_id, check_area)
    case.record_outcome(cmd.outcome, cmd.court, cmd.decided_on)
    if not case.with_assessment_condition and (cmd.appointment_at is not None or cmd.place is not None):
        raise RuleViolation("B3", "only a bail condition to undergo assessment sets an appointment")
    recorded = wire.BailOutcomeRecorded(
        detention_id=case.detention_id, outcome=str(cmd.outcome), court=cmd.court, decided_on=cmd.decided_on
    )
    await uow.emit(case.person_id, [(recorded, cmd.at)])
    if case.with_assessment_condition:
        await assessments.on_bail_condition(uow, case.detention_id, cmd.at)
        await _condition_appointment(uow, case, cmd, policy)
    await bail_cases.save(uow, case)
    await uow.audit("bail.outcome", case.person_id, {"outcome": str(cmd.outcome)})
    return case


async def _condition_appointment(
    uow: UnitOfWork, case: BailCase, cmd: CourtDecision, policy: AppointmentPolicy
) -> None:
    """B3 (A9): the court's time and place, with a worker covering the suite who has room that day; else the first
    slot of such a worker from the first working day after the decision (the worker of the person's required
    assessment first). Nobody free: the first slot of that day, with no worker (the clock then tells managers)."""
    detention = await detentions.load(uow, case.detention_id)
    suite = (detention.suite if detention else None) or ""
    required = await assessments.of_detention(uow, case.detention_id)
    prefer = required.initial.worker_id if required and required.initial else None
    if cmd.appointment_at is not None:
        at = cmd.appointment_at
        slot = await assignment.slot_on_day(uow, suite, london_day(at), policy, prefer=prefer)
        worker_id = slot.worker_id if slot else None
    else:
        earliest = next_working_day(cmd.decided_on + timedelta(days=1))
        proposal = await assignment.propose_from(uow, suite, earliest, policy, prefer=prefer)
        at = proposal.at or first_slot_from(earliest, policy)
        worker_id = proposal.worker_id
    case.set_condition_appointment(at, cmd.place or policy.default_place, worker_id)
    assert case.condition_appointment_at is not None and case.condition_place is not None
    appointment = wire.ConditionAppointmentSet(
        detention_id=case.detention_id,
        area=case.area,
        court=cmd.court,
        appointment_at=case.condition_appointment_at,
        place=case.condition_place,
        worker_id=worker_id,
        set_by_court=cmd.appointment_at is not None,
        rule_ids=["B3"],
    )
    await uow.emit(case.person_id, [(appointment, cmd.at)])
    await clocks.condition_appointment_set(uow, case)


@dataclass(frozen=True)
class ConditionAttendance:
    detention_id: str
    outcome: Outcome
    good_cause: bool
    at: datetime


async def record_condition_attendance(
    uow: UnitOfWork, cmd: ConditionAttendance, check_area: AreaCheck
) -> BailCase:
    """B3: what happened at the condition's appointment, once. A failure without good cause is the breach (B4):
    ``referral.bail_condition_breached`` (breach asks for an arrest under BA76 s.7(3)) and an alert to the area's
    court liaison, with nobody typing it in. Any record answers the clock's alert."""
    case = await _locked(uow, cmd.detention_id, check_area)
    broken = case.record_condition_attendance(cmd.outcome, cmd.good_cause, cmd.at)
    await bail_cases.save(uow, case)
    assert case.condition_appointment_at is not None
    recorded = wire.ConditionAttendanceRecorded(
        detention_id=case.detention_id,
        area=case.area,
        outcome=str(cmd.outcome),
        good_cause=bool(case.condition_good_cause),
        appointment_at=case.condition_appointment_at,
        breached=broken is not None,
        rule_ids=["B3", "B4"] if broken else ["B3"],
    )
    await uow.emit(case.person_id, [(recorded, cmd.at)])
    await clocks.condition_attendance_recorded(uow, case)
    if broken is not None:
        await _breached(uow, case, cmd.at, broken)
        await clocks.condition_failed(uow, case, broken)
    detail = {"detention_id": cmd.detention_id, "outcome": str(cmd.outcome), "breach": broken is not None}
    await uow.audit("bail.condition_attendance", case.person_id, detail)
    return case


@dataclass(frozen=True)
class Breach:
    detention_id: str
    at: datetime
    what: str


async def _breached(uow: UnitOfWork, case: BailCase, at: datetime, what: str) -> None:
    """B4: breach (the service) asks for an arrest without warrant under BA76 s.7(3)."""
    breached = wire.BailConditionBreached(
        detention_id=case.detention_id, area=case.area, what=what, rule_ids=["B4"]
    )
    await uow.emit(case.person_id, [(breached, at)])


async def record_breach(uow: UnitOfWork, cmd: Breach, check_area: AreaCheck) -> BailCase:
    """B4: the condition to undergo assessment was broken; an arrest without warrant may follow."""
    case = await _locked(uow, cmd.detention_id, check_area)
    case.record_breach(cmd.at, cmd.what)
    await bail_cases.save(uow, case)
    await _breached(uow, case, cmd.at, cmd.what)
    await uow.audit("bail.breach", case.person_id, {"detention_id": cmd.detention_id})
    return case


async def on_breach_arrest(
    uow: UnitOfWork, person_id: str, arrest_detention_id: str, arrested_at: datetime
) -> None:
    """B4: a custody booking under BA76 s.7(3) of someone whose condition was broken: before a justice within 24
    hours, not counting Sundays, Christmas Day and Good Friday."""
    case = await bail_cases.breached_before(uow, person_id, arrested_at)
    if case is None:
        return
    deadline = case.arrested(arrested_at)
    await bail_cases.save(uow, case)
    arrest = wire.BailBreachArrest(
        detention_id=case.detention_id,
        arrest_detention_id=arrest_detention_id,
        arrested_at=arrested_at,
        before_justice_by=deadline,
        rule_ids=["B4"],
    )
    await uow.emit(person_id, [(arrest, arrested_at)])
    await clocks.arrested_for_breach(uow, case, arrest_detention_id, deadline)

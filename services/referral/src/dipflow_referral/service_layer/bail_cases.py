"""Restriction on bail (B1-B4): a case opens when a detention with a positive result is charged; B1 is decided
again whenever its facts change, and court and CPS liaison are told when the answer (or its reasons) changes;
the court's outcome (B2, B3; A7 for the requirements), a breach of the assessment condition and the arrest for
it (B4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from dipflow.errors import NotFound
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import bail_cases, detentions
from dipflow_referral.contracts import events as wire
from dipflow_referral.domain.assessment import RequiredAssessment
from dipflow_referral.domain.bail import BailCase, CourtOutcome, Restriction
from dipflow_referral.domain.detention import Detention
from dipflow_referral.service_layer import assessments, clocks

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


async def record_outcome(uow: UnitOfWork, cmd: CourtDecision, check_area: AreaCheck) -> BailCase:
    """B2: the court's decision, once; bail with a condition to undergo assessment ends the requirements (A7)."""
    case = await _locked(uow, cmd.detention_id, check_area)
    case.record_outcome(cmd.outcome, cmd.court, cmd.decided_on)
    await bail_cases.save(uow, case)
    recorded = wire.BailOutcomeRecorded(
        detention_id=case.detention_id, outcome=str(cmd.outcome), court=cmd.court, decided_on=cmd.decided_on
    )
    await uow.emit(case.person_id, [(recorded, cmd.at)])
    if case.with_assessment_condition:
        await assessments.on_bail_condition(uow, case.detention_id, cmd.at)
    await uow.audit("bail.outcome", case.person_id, {"outcome": str(cmd.outcome)})
    return case


@dataclass(frozen=True)
class Breach:
    detention_id: str
    at: datetime
    what: str


async def record_breach(uow: UnitOfWork, cmd: Breach, check_area: AreaCheck) -> BailCase:
    """B4: the condition to undergo assessment was broken; an arrest without warrant may follow."""
    case = await _locked(uow, cmd.detention_id, check_area)
    case.record_breach(cmd.at, cmd.what)
    await bail_cases.save(uow, case)
    breached = wire.BailConditionBreached(
        detention_id=case.detention_id, area=case.area, what=cmd.what, rule_ids=["B4"]
    )
    await uow.emit(case.person_id, [(breached, cmd.at)])
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

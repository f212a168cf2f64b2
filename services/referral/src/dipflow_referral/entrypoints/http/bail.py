"""/v1/bail-cases: restriction on bail (B1-B4) for court and CPS liaison: the notices of an area, the person's
agreement, the court's outcome (with the condition's appointment, B3), attendance at that appointment, a breach of
the assessment condition."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool

from dipflow.http.params import AwareInstant, Day
from dipflow_referral.domain.bail import BailCase, CourtOutcome
from dipflow_referral.domain.events import Outcome
from dipflow_referral.entrypoints.http.deps import (
    BailAgreer,
    BailBreacher,
    BailDecider,
    BailLister,
    ConditionAttendanceRecorder,
    Policy,
)
from dipflow_referral.service_layer import bail_cases

router = APIRouter(prefix="/v1/bail-cases", tags=["restriction on bail"])


class BailCaseView(BaseModel):
    detention_id: str
    person_id: str
    area: str
    agreed: bool | None
    substantial_grounds: bool | None
    restriction: str | None
    rule_ids: list[str]
    reasons: list[str]
    notified_at: datetime | None
    outcome: str | None
    court: str | None
    decided_on: date | None
    breached_at: datetime | None
    breach_what: str | None
    arrested_at: datetime | None
    before_justice_by: datetime | None
    condition_appointment_at: datetime | None = Field(
        description="B3: the appointment under the bail condition"
    )
    condition_place: str | None
    condition_worker_id: str | None
    condition_attendance: str | None = Field(description="B3: attended, failed_to_attend or failed_to_remain")
    condition_good_cause: bool | None
    condition_attended_at: datetime | None
    condition_complied: bool | None = Field(
        description="B3: attended (true), failed without good cause (false), else not known (null)"
    )


def bail_view(case: BailCase) -> BailCaseView:
    return BailCaseView(
        detention_id=case.detention_id,
        person_id=case.person_id,
        area=case.area,
        agreed=case.agreed,
        substantial_grounds=case.substantial_grounds,
        restriction=case.restriction,
        rule_ids=list(case.rule_ids),
        reasons=list(case.reasons),
        notified_at=case.notified_at,
        outcome=case.outcome,
        court=case.court,
        decided_on=case.decided_on,
        breached_at=case.breached_at,
        breach_what=case.breach_what,
        arrested_at=case.arrested_at,
        before_justice_by=case.before_justice_by,
        condition_appointment_at=case.condition_appointment_at,
        condition_place=case.condition_place,
        condition_worker_id=case.condition_worker_id,
        condition_attendance=case.condition_attendance,
        condition_good_cause=case.condition_good_cause,
        condition_attended_at=case.condition_attended_at,
        condition_complied=case.condition_complied,
    )


@router.get(
    "", response_model=list[BailCaseView], summary="Restriction-on-bail notices of an area (court liaison)"
)
async def list_bail(ctx: BailLister, area: str = Query(..., max_length=60)) -> list[BailCaseView]:
    async with ctx.unit_of_work() as uow:
        found = await bail_cases.in_area(uow, area)
    return [bail_view(c) for c in found]


class AgreementIn(BaseModel):
    agreed: StrictBool = Field(
        description="Whether the person agreed to undergo an assessment (and any follow-up)"
    )
    substantial_grounds: StrictBool | None = Field(
        None,
        description="Substantial grounds that Class A misuse caused, contributed to or motivated the offence",
    )


@router.post("/{detention_id}/agreement", response_model=BailCaseView, summary="B1: did the person agree?")
async def agreement(detention_id: str, body: AgreementIn, ctx: BailAgreer) -> BailCaseView:
    command = bail_cases.Agreement(detention_id, body.agreed, body.substantial_grounds, datetime.now(UTC))
    async with ctx.unit_of_work() as uow:
        return bail_view(await bail_cases.record_agreement(uow, command, ctx.require_area))


class OutcomeIn(BaseModel):
    outcome: str = Field(pattern="^(bail_refused|bail_with_assessment_condition|bail_without_condition)$")
    court: str = Field(min_length=2, max_length=200)
    decided_on: Day
    appointment_at: AwareInstant | None = Field(
        None,
        description="B3: the assessment's time when the court set it in the condition; else the first free slot "
        "of a worker covering the suite from the first working day after the decision",
    )
    place: str | None = Field(
        None, min_length=2, max_length=300, description="B3: where, as the court set it"
    )


@router.post("/{detention_id}/outcome", response_model=BailCaseView, summary="B2/B3: the court's decision")
async def outcome(detention_id: str, body: OutcomeIn, ctx: BailDecider, policy: Policy) -> BailCaseView:
    command = bail_cases.CourtDecision(
        detention_id,
        CourtOutcome(body.outcome),
        body.court,
        body.decided_on,
        datetime.now(UTC),
        body.appointment_at,
        body.place,
    )
    async with ctx.unit_of_work() as uow:
        return bail_view(await bail_cases.record_outcome(uow, command, ctx.require_area, policy))


class ConditionAttendanceIn(BaseModel):
    outcome: Outcome
    good_cause: StrictBool = False
    at: AwareInstant | None = None


@router.post(
    "/{detention_id}/condition-attendance",
    response_model=BailCaseView,
    summary="B3: attendance at the assessment under the bail condition; a failure without good cause is B4",
)
async def condition_attendance(
    detention_id: str, body: ConditionAttendanceIn, ctx: ConditionAttendanceRecorder
) -> BailCaseView:
    command = bail_cases.ConditionAttendance(
        detention_id, body.outcome, body.good_cause, body.at or datetime.now(UTC)
    )
    async with ctx.unit_of_work() as uow:
        return bail_view(await bail_cases.record_condition_attendance(uow, command, ctx.require_area))


class BreachIn(BaseModel):
    what: str = Field(min_length=3, max_length=500, description="What condition was broken, and how")
    at: AwareInstant | None = None


@router.post(
    "/{detention_id}/breach", response_model=BailCaseView, summary="B4: the assessment condition was broken"
)
async def breach(detention_id: str, body: BreachIn, ctx: BailBreacher) -> BailCaseView:
    command = bail_cases.Breach(detention_id, body.at or datetime.now(UTC), body.what)
    async with ctx.unit_of_work() as uow:
        return bail_view(await bail_cases.record_breach(uow, command, ctx.require_area))

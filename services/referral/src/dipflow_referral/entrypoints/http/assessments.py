"""/v1/assessments: required assessments of an area, one assessment, and the steps staff take (RA1-RA5, treatment,
assignment to a worker). The positive drugs are shown to the roles whose work reads them (T13)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool

from dipflow.auth import Principal
from dipflow.http.params import AwareInstant
from dipflow_referral.domain.assessment import Appointment, Kind, Outcome, RequiredAssessment, Status
from dipflow_referral.entrypoints.http.deps import (
    ASSESSMENT_PURPOSES,
    AssessmentChanger,
    AssessmentImposer,
    AssessmentLister,
    AssessmentManager,
    AssessmentReader,
    AssessmentStaff,
    Policy,
    assessment_access,
    purpose_of,
)
from dipflow_referral.service_layer import assessments

router = APIRouter(prefix="/v1/assessments", tags=["required assessments"])


class AppointmentView(BaseModel):
    at: datetime
    place: str
    worker_id: str | None


class AssessmentView(BaseModel):
    assessment_id: str
    person_id: str
    detention_id: str
    suite: str
    area: str
    status: Status
    drugs: list[str] | None = Field(description="The positive drugs; null when withheld (T13)")
    results_withheld: str | None = None
    disputed: bool
    follow_up_imposed: bool
    initial: AppointmentView | None
    follow_up: AppointmentView | None
    imposed_at: datetime | None
    ended_reason: str | None
    needs_new_notice: bool
    entered_treatment_at: datetime | None
    initial_requirement: str = Field(
        description="proposed, in_force, met, failed, ended, lapsed (A1-A7)", default="proposed"
    )
    follow_up_requirement: str = Field(
        description="not_imposed, proposed, in_force, met, failed, ended, lapsed (A2, A4-A7)",
        default="not_imposed",
    )
    earliest_day: date | None = Field(None, description="A3: no initial appointment before this day")


def _appointment(a: Appointment | None) -> AppointmentView | None:
    return None if a is None else AppointmentView(at=a.at, place=a.place, worker_id=a.worker_id)


def assessment_view(a: RequiredAssessment, area: str, principal: Principal) -> AssessmentView:
    """The assessment as ``principal`` sees it: without its positive drugs for a role that does not read them
    (T13)."""
    initial, follow_up = a.requirement_states()
    view = AssessmentView(
        initial_requirement=initial,
        follow_up_requirement=follow_up,
        earliest_day=a.earliest_day,
        assessment_id=a.case_id,
        person_id=a.person_id,
        detention_id=a.detention_id,
        suite=a.suite,
        area=area,
        status=a.status,
        drugs=sorted(a.positive_drugs),
        disputed=a.disputed,
        follow_up_imposed=a.follow_up_imposed,
        initial=_appointment(a.initial),
        follow_up=_appointment(a.follow_up),
        imposed_at=a.imposed_at,
        ended_reason=a.ended_reason,
        needs_new_notice=a.needs_new_notice,
        entered_treatment_at=a.entered_treatment_at,
    )
    if principal.role in ASSESSMENT_PURPOSES:
        return view
    withheld = f"the role {principal.role} does not see test results (T13)"
    return view.model_copy(update={"drugs": None, "results_withheld": withheld})


@router.get("", response_model=list[AssessmentView], summary="Required assessments of an area")
async def list_assessments(
    ctx: AssessmentLister, area: str = Query(..., max_length=60), status: Status | None = None
) -> list[AssessmentView]:
    async with ctx.unit_of_work() as uow:
        found = await assessments.in_area(uow, area, status, purpose=purpose_of(ctx.principal))
    return [assessment_view(a, a_area, ctx.principal) for a, a_area in found]


@router.get("/{assessment_id}", response_model=AssessmentView, summary="One required assessment")
async def get_assessment(assessment_id: str, ctx: AssessmentReader) -> AssessmentView:
    check = assessment_access(ctx.principal)
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.read(uow, assessment_id, check, purpose=purpose_of(ctx.principal))
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


class ImposeIn(BaseModel):
    at: AwareInstant | None = Field(None, description="When RA1 was served; now if omitted")
    place: str | None = Field(None, max_length=300)
    appointment_at: AwareInstant | None = Field(None, description="Another time than the one proposed")


@router.post("/{assessment_id}/impose", response_model=AssessmentView, summary="RA1: impose before release")
async def impose(
    assessment_id: str, body: ImposeIn, ctx: AssessmentImposer, policy: Policy
) -> AssessmentView:
    command = assessments.Impose(assessment_id, body.at or datetime.now(UTC), body.place, body.appointment_at)
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.impose(uow, command, assessment_access(ctx.principal), policy)
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


class ChangeIn(BaseModel):
    kind: Kind = Kind.initial
    appointment_at: AwareInstant
    place: str = Field(min_length=2, max_length=300)


@router.post(
    "/{assessment_id}/appointment", response_model=AssessmentView, summary="RA2: change time or place"
)
async def change_appointment(assessment_id: str, body: ChangeIn, ctx: AssessmentChanger) -> AssessmentView:
    command = assessments.ChangeAppointment(assessment_id, body.kind, body.appointment_at, body.place)
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.change_appointment(uow, command, assessment_access(ctx.principal))
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


class AttendanceIn(BaseModel):
    kind: Kind = Kind.initial
    outcome: Outcome
    good_cause: StrictBool = False
    at: AwareInstant | None = None
    clinical_note: str | None = Field(None, max_length=10000, description="Assessment staff only (A8)")


@router.post("/{assessment_id}/attendance", response_model=AssessmentView, summary="RA3: record attendance")
async def record_attendance(assessment_id: str, body: AttendanceIn, ctx: AssessmentStaff) -> AssessmentView:
    command = assessments.RecordAttendance(
        assessment_id, body.kind, body.outcome, body.good_cause, body.at, body.clinical_note
    )
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.record_attendance(uow, command, assessment_access(ctx.principal))
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


class FollowUpIn(BaseModel):
    needed: StrictBool
    appointment_at: AwareInstant | None = None
    place: str | None = Field(None, max_length=300)


@router.post("/{assessment_id}/follow-up", response_model=AssessmentView, summary="RA4 or RA5")
async def decide_follow_up(
    assessment_id: str, body: FollowUpIn, ctx: AssessmentStaff, policy: Policy
) -> AssessmentView:
    command = assessments.DecideFollowUp(assessment_id, body.needed, body.appointment_at, body.place)
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.decide_follow_up(uow, command, assessment_access(ctx.principal), policy)
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


@router.post("/{assessment_id}/treatment", response_model=AssessmentView, summary="Entered treatment (K4)")
async def entered_treatment(assessment_id: str, ctx: AssessmentStaff) -> AssessmentView:
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.entered_treatment(uow, assessment_id, assessment_access(ctx.principal))
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)


class AssignIn(BaseModel):
    kind: Kind = Kind.initial
    worker_id: str = Field(pattern=r"^[A-Za-z0-9-]{2,40}$")


@router.post(
    "/{assessment_id}/assign", response_model=AssessmentView, summary="Give an appointment to a worker"
)
async def assign(
    assessment_id: str, body: AssignIn, ctx: AssessmentManager, policy: Policy
) -> AssessmentView:
    command = assessments.Assign(assessment_id, body.kind, body.worker_id)
    async with ctx.unit_of_work() as uow:
        loaded = await assessments.assign(uow, command, assessment_access(ctx.principal), policy)
    return assessment_view(loaded.assessment, loaded.area, ctx.principal)

"""What the referral routes depend on: who may call them and on which records, checked before the body is read
(and again by the service on the locked record), what a read of test results serves (T13), and the appointment
policy of the settings. docs/access-policy.md states the policy; docs/access.md is generated from these."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Protocol

from fastapi import Depends, Request

from dipflow.auth import Principal, Role
from dipflow.auth.purposes import Purpose
from dipflow.errors import Forbidden
from dipflow.http.access import AuthContext, Requirement, requires
from dipflow.http.problems import Problem
from dipflow_referral.domain.assessment import RequiredAssessment
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.service_layer import assessments, bail_cases, inbox, workers
from dipflow_referral.service_layer.assessments import AccessCheck
from dipflow_referral.settings import ReferralSettings

MANAGERS = (Role.referral_manager, Role.admin)
STAFF = (Role.referral_worker, Role.referral_manager, Role.admin)
CLINICAL = (Role.referral_worker, Role.referral_manager)
"""Assessment staff (A8)."""
READERS = (*STAFF, Role.custody_officer, Role.court_liaison)

ASSESSMENT_PURPOSES = {
    Role.referral_worker: Purpose.required_assessment,
    Role.referral_manager: Purpose.required_assessment,
    Role.custody_officer: Purpose.required_assessment,
    Role.court_liaison: Purpose.bail,
}
"""T13: what a read of an assessment's positive drugs serves, by role (admins do not see them)."""

NO_BAIL_CASE = "no restriction-on-bail case for this detention (not charged, or no positive result)"


def purpose_of(principal: Principal) -> str | None:
    """For the audit: what a read of the positive drugs serves (T13), when the role sees them."""
    purpose = ASSESSMENT_PURPOSES.get(principal.role)
    return str(purpose) if purpose else None


def assessment_access(principal: Principal) -> AccessCheck:
    """Everyone by area; a worker, in their area, only the assessments assigned to them."""

    def check(a: RequiredAssessment, area: str) -> None:
        if not principal.covers(area):
            raise Forbidden("this record belongs to an area you do not cover", kind="wrong-area")
        if principal.role is Role.referral_worker and (
            principal.worker_id is None or principal.worker_id not in a.workers
        ):
            raise Forbidden("this assessment is not assigned to you", kind="not-your-assignment")

    return check


def on_assessment(*roles: Role) -> Requirement:
    """``requires(*roles)`` and :func:`assessment_access` on the assessment, before the body is read."""
    caller = requires(*roles)

    async def dependency(assessment_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            a, area = await assessments.peek(uow, assessment_id)
        assessment_access(ctx.principal)(a, area)
        return ctx

    dependency.record = "the assessment is in the caller's area; a worker's, assigned to them"  # type: ignore[attr-defined]
    return dependency


def on_worker(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the worker's area covered by the caller, before the body is read."""
    caller = requires(*roles)

    async def dependency(worker_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            area = await workers.area_of(uow, worker_id)
        ctx.require_area(area)
        return ctx

    dependency.record = "the worker's area is the caller's"  # type: ignore[attr-defined]
    return dependency


def on_bail_case(*roles: Role) -> Requirement:
    """``requires(*roles)``, the case in the caller's area, and for a worker the person's required assessment
    assigned to them; before the body is read."""
    caller = requires(*roles)

    async def dependency(detention_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            case, assessment = await bail_cases.access_facts(uow, detention_id)
        if case is None:
            raise Problem(404, NO_BAIL_CASE)
        ctx.require_area(case.area)
        principal = ctx.principal
        assigned = {case.condition_worker_id} | (assessment.workers if assessment else set())
        if principal.role is Role.referral_worker and (
            principal.worker_id is None or principal.worker_id not in assigned
        ):
            raise Forbidden("this person's assessment is not assigned to you", kind="not-your-assignment")
        return ctx

    dependency.record = (  # type: ignore[attr-defined]
        "the case is in the caller's area; a worker's, the person assigned to them (their required assessment "
        "or the bail condition's appointment)"
    )
    return dependency


AssessmentReader = Annotated[AuthContext, Depends(on_assessment(*READERS))]
AssessmentImposer = Annotated[AuthContext, Depends(on_assessment(Role.custody_officer, Role.admin))]
AssessmentChanger = Annotated[AuthContext, Depends(on_assessment(*STAFF, Role.custody_officer))]
AssessmentStaff = Annotated[AuthContext, Depends(on_assessment(*STAFF))]
AssessmentManager = Annotated[AuthContext, Depends(on_assessment(*MANAGERS))]
NotesReader = Annotated[AuthContext, Depends(on_assessment(*CLINICAL, Role.admin))]
NotesWriter = Annotated[AuthContext, Depends(on_assessment(*CLINICAL))]
AssessmentLister = Annotated[
    AuthContext, Depends(requires(Role.referral_manager, Role.admin, Role.custody_officer, area="area"))
]
Managers = Annotated[AuthContext, Depends(requires(*MANAGERS))]
AreaManagers = Annotated[AuthContext, Depends(requires(*MANAGERS, area="area"))]
WorkerManager = Annotated[AuthContext, Depends(on_worker(*MANAGERS))]
Worker = Annotated[AuthContext, Depends(requires(Role.referral_worker))]
BailLister = Annotated[
    AuthContext,
    Depends(requires(Role.court_liaison, Role.custody_officer, Role.referral_manager, area="area")),
]
BailAgreer = Annotated[
    AuthContext, Depends(on_bail_case(Role.custody_officer, Role.referral_worker, Role.admin))
]
BailDecider = Annotated[AuthContext, Depends(on_bail_case(Role.court_liaison, Role.admin))]
BailBreacher = Annotated[
    AuthContext,
    Depends(
        on_bail_case(
            Role.referral_worker,
            Role.referral_manager,
            Role.court_liaison,
            Role.police_enforcement,
            Role.admin,
        )
    ),
]
ConditionAttendanceRecorder = Annotated[
    AuthContext, Depends(on_bail_case(Role.referral_worker, Role.referral_manager, Role.admin))
]
MeasureReader = Annotated[
    AuthContext, Depends(requires(Role.analyst, Role.referral_manager, Role.admin, area="borough"))
]


async def appointment_policy(request: Request) -> AppointmentPolicy:
    settings: ReferralSettings = request.app.state.resources.settings
    return settings.appointment_policy()


Policy = Annotated[AppointmentPolicy, Depends(appointment_policy)]


class InboxStreams(Protocol):
    def stream(self, worker_id: str) -> AsyncIterator[bytes]: ...


async def inbox_streams(request: Request) -> InboxStreams:
    """The process's live inbox (one LISTEN connection), set up by ``main``."""
    streams: InboxStreams = request.app.state.inbox
    return streams


Streams = Annotated[InboxStreams, Depends(inbox_streams)]


async def own_worker_id(ctx: AuthContext) -> str:
    """The caller's worker id, if that worker is in an area the caller's token covers."""
    worker_id = ctx.principal.worker_id
    if worker_id is None:
        raise Problem(403, "your token carries no worker id", kind="no-worker-id")
    async with ctx.reading() as uow:
        area = await inbox.team_of(uow, worker_id)
    if area is not None:
        ctx.require_area(area)
    return worker_id

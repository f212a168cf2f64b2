"""The referral API: workers and coverage, required assessments, the worker inbox (with a live stream),
restriction on bail and K4."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt

from dipflow.auth import AuthContext, Role, requires
from dipflow.auth.access import Requirement
from dipflow.auth.principal import Principal
from dipflow.auth.purposes import Purpose
from dipflow.http.params import AwareInstant, Day
from dipflow.http.problems import Problem
from dipflow_referral import bail_cases, handlers
from dipflow_referral.adapters import repository as repo
from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    Outcome,
    RequiredAssessment,
    RuleViolation,
    Status,
)
from dipflow_referral.domain.assignment import AppointmentPolicy

workers = APIRouter(prefix="/v1/workers", tags=["workers"])
assessments = APIRouter(prefix="/v1/assessments", tags=["required assessments"])
inbox = APIRouter(prefix="/v1/inbox", tags=["worker inbox"])
bail = APIRouter(prefix="/v1/bail-cases", tags=["restriction on bail"])
queue = APIRouter(prefix="/v1/unassigned", tags=["required assessments"])
teams = APIRouter(prefix="/v1/teams", tags=["workers"])

MANAGERS = (Role.referral_manager, Role.admin)
STAFF = (Role.referral_worker, Role.referral_manager, Role.admin)
CLINICAL = (Role.referral_worker, Role.referral_manager)  # assessment staff (A8)
READERS = (*STAFF, Role.custody_officer, Role.court_liaison)
PERSON_ID = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"


def _policy(request: Request) -> AppointmentPolicy:
    policy: AppointmentPolicy = request.app.state.resources.settings.appointment_policy()
    return policy


def _rule(exc: RuleViolation) -> Problem:
    return Problem(409, exc.reason, kind="rule-violation", rule_id=exc.rule_id)


@asynccontextmanager
async def _transaction(ctx: AuthContext) -> AsyncIterator[asyncpg.Connection]:
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            yield conn
    except RuleViolation as exc:
        raise _rule(exc) from exc
    except handlers.NotFound as exc:
        raise Problem(404, "no such required assessment") from exc


# -- workers -------------------------------------------------------------------------------------------------------


class WorkerIn(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"worker_id": "W-LAM-01", "name": "A Worker", "area": "lambeth", "suites": ["MET-BRIXTON"], "daily_capacity": 4,
         "working_weekdays": [0, 1, 2, 3, 4]}]}}  # fmt: skip

    worker_id: str = Field(pattern=r"^[A-Za-z0-9-]{2,40}$")
    name: str = Field(min_length=1, max_length=200)
    area: str = Field(pattern=r"^[a-z-]{2,60}$")
    suites: list[str] = Field(min_length=1, max_length=20)
    daily_capacity: StrictInt = Field(ge=1, le=50)
    working_weekdays: list[Annotated[StrictInt, Field(ge=0, le=6)]] = Field(
        default=[0, 1, 2, 3, 4], min_length=1, max_length=7, description="0 is Monday, 6 is Sunday"
    )
    active: StrictBool = True


class WorkerView(WorkerIn):
    leave: list[dict[str, Any]] = []


class LeaveIn(BaseModel):
    first_day: Day
    last_day: Day
    reason: str | None = Field(None, max_length=200)


@workers.post(
    "", response_model=WorkerView, status_code=201, summary="Add or update an arrest referral worker"
)
async def put_worker(
    body: WorkerIn, request: Request, ctx: AuthContext = Depends(requires(*MANAGERS))
) -> WorkerView:
    ctx.require_area(body.area)
    async with _transaction(ctx) as conn:
        existing = await conn.fetchval(
            "SELECT area FROM workers WHERE worker_id = $1 FOR UPDATE", body.worker_id
        )
        if existing is not None:
            ctx.require_area(existing)  # managers of the worker's current area decide a move
        await conn.execute(
            "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (worker_id) DO UPDATE SET name = $2, area = $3, "
            "suites = $4, daily_capacity = $5, working_weekdays = $6, active = $7, updated_at = now()",
            body.worker_id, body.name, body.area, body.suites, body.daily_capacity, sorted(set(body.working_weekdays)),
            body.active,
        )  # fmt: skip
        ctx_ = handlers.Context(ctx.audit.correlation_id)
        await handlers.assign_queued(conn, body.suites, _policy(request), ctx_)
        await ctx.audit.record("worker.put", conn=conn, detail={"worker_id": body.worker_id})
    return WorkerView(**body.model_dump())


@workers.get("", response_model=list[WorkerView], summary="Workers of an area")
async def list_workers(
    area: str | None = Query(None, max_length=60),
    ctx: AuthContext = Depends(requires(*MANAGERS, area="area")),
) -> list[WorkerView]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT w.*, coalesce(json_agg(json_build_object('first_day', l.first_day, 'last_day', l.last_day, "
            "'reason', l.reason)) FILTER (WHERE l.id IS NOT NULL), '[]') AS leave FROM workers w "
            "LEFT JOIN worker_leave l USING (worker_id) WHERE $1::text IS NULL OR w.area = $1 GROUP BY w.worker_id "
            "ORDER BY w.worker_id",
            area,
        )
    return [
        WorkerView(**{k: r[k] for k in WorkerIn.model_fields}, leave=r["leave"])
        for r in rows
        if ctx.principal.covers(r["area"])
    ]


def on_worker(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the worker's area covered by the caller, before the body is read."""
    caller = requires(*roles)

    async def dependency(worker_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            area = await repo.worker_area(conn, worker_id)
        if area is None:
            raise Problem(404, "no such worker")
        ctx.require_area(area)
        return ctx

    dependency.record = "the worker's area is the caller's"  # type: ignore[attr-defined]
    return dependency


MANAGE_WORKER = on_worker(*MANAGERS)


@workers.post("/{worker_id}/leave", summary="Record leave; waiting appointments in it move to other workers")
async def add_leave(
    worker_id: str, body: LeaveIn, request: Request, ctx: AuthContext = Depends(MANAGE_WORKER)
) -> dict[str, int]:
    if body.last_day < body.first_day:
        raise Problem(
            422,
            "leave ends before it starts",
            errors=[{"field": "body.last_day", "reason": "before first_day"}],
        )
    async with _transaction(ctx) as conn:
        area = await conn.fetchval("SELECT area FROM workers WHERE worker_id = $1", worker_id)
        if area is None:
            raise Problem(404, "no such worker")
        ctx.require_area(area)
        await conn.execute(
            "INSERT INTO worker_leave (worker_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4)",
            worker_id, body.first_day, body.last_day, body.reason,
        )  # fmt: skip
        moved = await handlers.reassign_for_leave(
            conn,
            worker_id,
            body.first_day,
            body.last_day,
            _policy(request),
            handlers.Context(ctx.audit.correlation_id),
        )
        await ctx.audit.record("worker.leave", conn=conn, detail={"worker_id": worker_id, **moved})
    return moved


class WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(
        min_length=16, max_length=200, description="Shared secret for the HMAC-SHA256 signature"
    )


class DeliveryView(BaseModel):
    id: int
    body: dict[str, Any]
    attempts: int
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@teams.put("/{area}/webhook", status_code=204, summary="Set the team's webhook for new assignments")
async def put_webhook(
    area: str, body: WebhookIn, ctx: AuthContext = Depends(requires(*MANAGERS, area="area"))
) -> None:
    async with _transaction(ctx) as conn:
        await conn.execute(
            "INSERT INTO team_webhooks (area, url, secret) VALUES ($1, $2, $3) ON CONFLICT (area) DO UPDATE "
            "SET url = $2, secret = $3, updated_at = now()",
            area, body.url, body.secret,
        )  # fmt: skip
        await ctx.audit.record("team.webhook", conn=conn, detail={"area": area})


@teams.get(
    "/{area}/webhook-deliveries", response_model=list[DeliveryView], summary="Recent webhook deliveries"
)
async def deliveries(
    area: str, ctx: AuthContext = Depends(requires(*MANAGERS, area="area"))
) -> list[DeliveryView]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, body, attempts, delivered_at, failed_at, last_error FROM webhook_deliveries WHERE area = $1 "
            "ORDER BY id DESC LIMIT 200",
            area,
        )
    return [DeliveryView(**dict(r)) for r in rows]


# -- assessments ---------------------------------------------------------------------------------------------------


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


def _view(a: RequiredAssessment, area: str) -> AssessmentView:
    initial, follow_up = a.requirement_states()
    return AssessmentView(
        initial_requirement=initial, follow_up_requirement=follow_up, earliest_day=a.earliest_day,
        assessment_id=a.case_id, person_id=a.person_id, detention_id=a.detention_id, suite=a.suite, area=area,
        status=a.status, drugs=sorted(a.positive_drugs), disputed=a.disputed, follow_up_imposed=a.follow_up_imposed,
        initial=_appointment(a.initial), follow_up=_appointment(a.follow_up), imposed_at=a.imposed_at,
        ended_reason=a.ended_reason, needs_new_notice=a.needs_new_notice, entered_treatment_at=a.entered_treatment_at,
    )  # fmt: skip


def _workers_of(a: RequiredAssessment) -> set[str]:
    return {x.worker_id for x in (a.initial, a.follow_up) if x is not None and x.worker_id is not None}


def _check_access(principal: Principal, a: RequiredAssessment, area: str) -> None:
    """Everyone by area; a worker, in their area, only the assessments assigned to them."""
    if not principal.covers(area):
        raise Problem(403, "this record belongs to an area you do not cover", kind="wrong-area")
    if principal.role is Role.referral_worker and (
        principal.worker_id is None or principal.worker_id not in _workers_of(a)
    ):
        raise Problem(403, "this assessment is not assigned to you", kind="not-your-assignment")


def on_assessment(*roles: Role) -> Requirement:
    """``requires(*roles)`` and :func:`_check_access` on the assessment, before the body is read."""
    caller = requires(*roles)

    async def dependency(assessment_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            found = await repo.assessment_and_area(conn, assessment_id)
        if found is None:
            raise Problem(404, "no such required assessment")
        _check_access(ctx.principal, *found)
        return ctx

    dependency.record = "the assessment is in the caller's area; a worker's, assigned to them"  # type: ignore[attr-defined]
    return dependency


READ_ASSESSMENT = on_assessment(*READERS)
IMPOSE_ASSESSMENT = on_assessment(Role.custody_officer, Role.admin)
CHANGE_ASSESSMENT = on_assessment(*STAFF, Role.custody_officer)
STAFF_ASSESSMENT = on_assessment(*STAFF)
MANAGE_ASSESSMENT = on_assessment(*MANAGERS)
READ_NOTES = on_assessment(*CLINICAL, Role.admin)
WRITE_NOTES = on_assessment(*CLINICAL)


ASSESSMENT_PURPOSES = {
    Role.referral_worker: Purpose.required_assessment,
    Role.referral_manager: Purpose.required_assessment,
    Role.custody_officer: Purpose.required_assessment,
    Role.court_liaison: Purpose.bail,
}
"""T13: what a read of an assessment's positive drugs serves, by role (admins do not see them)."""


def _purpose(ctx: AuthContext) -> dict[str, str]:
    """For the audit: what the read of the positive drugs served (T13), when the role sees them."""
    purpose = ASSESSMENT_PURPOSES.get(ctx.principal.role)
    return {"purpose": str(purpose)} if purpose else {}


def _shown(view: AssessmentView, principal: Principal) -> AssessmentView:
    if principal.role in ASSESSMENT_PURPOSES:
        return view
    return view.model_copy(
        update={
            "drugs": None,
            "results_withheld": f"the role {principal.role} does not see test results (T13)",
        }
    )


@assessments.get("", response_model=list[AssessmentView], summary="Required assessments of an area")
async def list_assessments(
    area: str = Query(..., max_length=60),
    status: Status | None = None,
    ctx: AuthContext = Depends(
        requires(Role.referral_manager, Role.admin, Role.custody_officer, area="area")
    ),
) -> list[AssessmentView]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state, area FROM assessments WHERE area = $1 AND ($2::text IS NULL OR status = $2) "
            "ORDER BY created_at DESC LIMIT 500",
            area, str(status) if status else None,
        )  # fmt: skip
    await ctx.audit.record("assessments.list", detail={"area": area, "returned": len(rows), **_purpose(ctx)})
    return [_shown(_view(repo.from_doc(r["state"]), r["area"]), ctx.principal) for r in rows]


@assessments.get("/{assessment_id}", response_model=AssessmentView, summary="One required assessment")
async def get_assessment(assessment_id: str, ctx: AuthContext = Depends(READ_ASSESSMENT)) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, _, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        await ctx.audit.record(
            "assessment.read",
            a.person_id,
            conn=conn,
            detail={"assessment_id": assessment_id, **_purpose(ctx)},
        )
    return _shown(_view(a, area), ctx.principal)


class ImposeIn(BaseModel):
    at: AwareInstant | None = Field(None, description="When RA1 was served; now if omitted")
    place: str | None = Field(None, max_length=300)
    appointment_at: AwareInstant | None = Field(None, description="Another time than the one proposed")


@assessments.post(
    "/{assessment_id}/impose", response_model=AssessmentView, summary="RA1: impose before release"
)
async def impose(
    assessment_id: str, body: ImposeIn, request: Request,
    ctx: AuthContext = Depends(IMPOSE_ASSESSMENT),
) -> AssessmentView:  # fmt: skip
    policy = _policy(request)
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        await handlers.impose(
            conn, a, version, area, at=body.at or datetime.now(UTC), place=body.place or policy.default_place,
            appointment_at=body.appointment_at, policy=policy, ctx=handlers.Context(ctx.audit.correlation_id),
        )  # fmt: skip
        await ctx.audit.record(
            "assessment.impose", a.person_id, conn=conn, detail={"assessment_id": assessment_id}
        )
    return _shown(_view(a, area), ctx.principal)


class ChangeIn(BaseModel):
    kind: Kind = Kind.initial
    appointment_at: AwareInstant
    place: str = Field(min_length=2, max_length=300)


@assessments.post(
    "/{assessment_id}/appointment", response_model=AssessmentView, summary="RA2: change time or place"
)
async def change_appointment(
    assessment_id: str, body: ChangeIn, ctx: AuthContext = Depends(CHANGE_ASSESSMENT)
) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        step = a.change_appointment(body.kind, datetime.now(UTC), body.appointment_at, body.place)
        await handlers.apply_steps(conn, a, version, area, [step], handlers.Context(ctx.audit.correlation_id))
        await ctx.audit.record(
            "assessment.change", a.person_id, conn=conn, detail={"assessment_id": assessment_id}
        )
    return _shown(_view(a, area), ctx.principal)


class AttendanceIn(BaseModel):
    kind: Kind = Kind.initial
    outcome: Outcome
    good_cause: StrictBool = False
    at: AwareInstant | None = None
    clinical_note: str | None = Field(None, max_length=10000, description="Assessment staff only (A8)")


@assessments.post(
    "/{assessment_id}/attendance", response_model=AssessmentView, summary="RA3: record attendance"
)
async def record_attendance(
    assessment_id: str, body: AttendanceIn, ctx: AuthContext = Depends(STAFF_ASSESSMENT)
) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        steps = a.record_attendance(body.kind, body.outcome, body.good_cause, body.at or datetime.now(UTC))
        await handlers.apply_steps(conn, a, version, area, steps, handlers.Context(ctx.audit.correlation_id))
        if body.clinical_note:
            await _add_note(conn, a.case_id, ctx.principal.subject, body.clinical_note)
        await ctx.audit.record("assessment.attendance", a.person_id, conn=conn,
                               detail={"assessment_id": assessment_id, "outcome": str(body.outcome)})  # fmt: skip
    return _shown(_view(a, area), ctx.principal)


class FollowUpIn(BaseModel):
    needed: StrictBool
    appointment_at: AwareInstant | None = None
    place: str | None = Field(None, max_length=300)


@assessments.post("/{assessment_id}/follow-up", response_model=AssessmentView, summary="RA4 or RA5")
async def decide_follow_up(
    assessment_id: str, body: FollowUpIn, request: Request, ctx: AuthContext = Depends(STAFF_ASSESSMENT)
) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        await handlers.decide_follow_up(
            conn, a, version, area, at=datetime.now(UTC), needed=body.needed, appointment_at=body.appointment_at,
            place=body.place, policy=_policy(request), ctx=handlers.Context(ctx.audit.correlation_id),
        )  # fmt: skip
        await ctx.audit.record("assessment.follow_up", a.person_id, conn=conn, detail={"needed": body.needed})
    return _shown(_view(a, area), ctx.principal)


@assessments.post(
    "/{assessment_id}/treatment", response_model=AssessmentView, summary="Entered treatment (K4)"
)
async def entered_treatment(
    assessment_id: str, ctx: AuthContext = Depends(STAFF_ASSESSMENT)
) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        step = a.entered_treatment(datetime.now(UTC))
        await handlers.apply_steps(conn, a, version, area, [step], handlers.Context(ctx.audit.correlation_id))
        await ctx.audit.record(
            "assessment.treatment", a.person_id, conn=conn, detail={"assessment_id": assessment_id}
        )
    return _shown(_view(a, area), ctx.principal)


class AssignIn(BaseModel):
    kind: Kind = Kind.initial
    worker_id: str = Field(pattern=r"^[A-Za-z0-9-]{2,40}$")


@assessments.post(
    "/{assessment_id}/assign", response_model=AssessmentView, summary="Give an appointment to a worker"
)
async def assign(
    assessment_id: str, body: AssignIn, request: Request, ctx: AuthContext = Depends(MANAGE_ASSESSMENT)
) -> AssessmentView:
    async with _transaction(ctx) as conn:
        a, version, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        done = await handlers.assign_to(
            conn, a, version, area, kind=body.kind, worker_id=body.worker_id, policy=_policy(request),
            ctx=handlers.Context(ctx.audit.correlation_id), at=datetime.now(UTC),
        )  # fmt: skip
        if not done:
            raise Problem(
                409, "that worker does not cover the suite, is away or has no room that day", rule_id="A9"
            )
        await ctx.audit.record(
            "assessment.assign", a.person_id, conn=conn, detail={"worker_id": body.worker_id}
        )
    return _shown(_view(a, area), ctx.principal)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=10000)


class NoteView(BaseModel):
    written_by: str
    written_at: datetime
    note: str


async def _add_note(conn: asyncpg.Connection, assessment_id: str, by: str, note: str) -> None:
    await conn.execute(
        "INSERT INTO clinical_notes (assessment_id, written_by, note) VALUES ($1, $2, $3)",
        assessment_id,
        by,
        note,
    )


@assessments.post("/{assessment_id}/clinical-notes", status_code=201, summary="A8: assessment staff only")
async def add_note(
    assessment_id: str, body: NoteIn, ctx: AuthContext = Depends(WRITE_NOTES)
) -> dict[str, str]:
    async with _transaction(ctx) as conn:
        a, _, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        await _add_note(conn, assessment_id, ctx.principal.subject, body.note)
        await ctx.audit.record(
            "clinical_note.add", a.person_id, conn=conn, detail={"assessment_id": assessment_id}
        )
    return {"status": "recorded"}


@assessments.get("/{assessment_id}/clinical-notes", response_model=list[NoteView], summary="A8: staff only")
async def notes(
    assessment_id: str,
    break_glass_reason: Annotated[
        str | None,
        Query(
            min_length=10,
            max_length=500,
            description="Admins only: why the notes must be read now (a recorded break-glass, shown in the audit)",
        ),
    ] = None,
    ctx: AuthContext = Depends(READ_NOTES),
) -> list[NoteView]:
    """The case's assigned workers and the managers of its area read its notes (A8). An admin reads them only
    by breaking the glass with a reason, which the audit keeps."""
    admin = ctx.principal.role is Role.admin
    if admin and break_glass_reason is None:
        raise Problem(
            403,
            "clinical notes are for the case's assessment staff (A8); an admin may read them only by breaking "
            "the glass with a reason (break_glass_reason)",
            kind="break-glass-required",
            rule_id="A8",
        )
    async with _transaction(ctx) as conn:
        a, _, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        rows = await conn.fetch(
            "SELECT written_by, written_at, note FROM clinical_notes WHERE assessment_id = $1 ORDER BY id",
            assessment_id,
        )
        action, detail = "clinical_note.read", {"assessment_id": assessment_id}
        if admin:
            action, detail = "clinical_note.break_glass", {**detail, "reason": break_glass_reason}
        await ctx.audit.record(action, a.person_id, conn=conn, detail=detail)
    return [NoteView(**dict(r)) for r in rows]


class NoticeView(BaseModel):
    form: str
    served_at: datetime
    text: str


@assessments.get(
    "/{assessment_id}/notices", response_model=list[NoticeView], summary="RA1-RA5 notices, printable"
)
async def notices(assessment_id: str, ctx: AuthContext = Depends(READ_ASSESSMENT)) -> list[NoticeView]:
    async with _transaction(ctx) as conn:
        a, _, area = await handlers.load(conn, assessment_id)
        _check_access(ctx.principal, a, area)
        rows = await conn.fetch(
            "SELECT form, served_at, text FROM notices WHERE assessment_id = $1 ORDER BY id", assessment_id
        )
    return [NoticeView(**dict(r)) for r in rows]


class QueuedView(BaseModel):
    assessment_id: str
    kind: Kind
    suite: str
    area: str
    appointment_at: datetime


@queue.get("", response_model=list[QueuedView], summary="Appointments no worker could take (A9)")
async def unassigned(
    area: str | None = Query(None, max_length=60),
    ctx: AuthContext = Depends(requires(*MANAGERS, area="area")),
) -> list[QueuedView]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT p.assessment_id, p.kind, a.suite, a.area, p.at FROM appointments p JOIN assessments a "
            "USING (assessment_id) WHERE p.active AND p.worker_id IS NULL AND a.status = ANY($2::text[]) "
            "AND ($1::text IS NULL OR a.area = $1) ORDER BY p.at",
            area, [str(Status.proposed), str(Status.imposed), str(Status.follow_up_set)],
        )  # fmt: skip
    return [
        QueuedView(
            assessment_id=r["assessment_id"],
            kind=Kind(r["kind"]),
            suite=r["suite"],
            area=r["area"],
            appointment_at=r["at"],
        )
        for r in rows
        if ctx.principal.covers(r["area"])
    ]


# -- inbox ---------------------------------------------------------------------------------------------------------


class InboxItem(BaseModel):
    assessment_id: str
    kind: Kind
    appointment_at: datetime
    place: str | None
    status: Status
    suite: str
    person_id: str


async def _worker_id(ctx: AuthContext) -> str:
    """The caller's worker id, if that worker is in an area the caller's token covers."""
    worker_id = ctx.principal.worker_id
    if worker_id is None:
        raise Problem(403, "your token carries no worker id", kind="no-worker-id")
    async with ctx.audit.pool.acquire() as conn:
        area = await repo.worker_area(conn, worker_id)
    if area is not None:
        ctx.require_area(area)
    return worker_id


@inbox.get("", response_model=list[InboxItem], summary="Your open assignments (filter by day and state)")
async def my_inbox(
    day: Day | None = None,
    state: Status | None = None,
    ctx: AuthContext = Depends(requires(Role.referral_worker)),
) -> list[InboxItem]:
    worker_id = await _worker_id(ctx)
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT p.assessment_id, p.kind, p.at, p.place, a.status, a.suite, a.person_id FROM appointments p "
            "JOIN assessments a USING (assessment_id) WHERE p.worker_id = $1 AND p.active "
            "AND ($2::date IS NULL OR p.day = $2) AND a.status = ANY($3::text[]) ORDER BY p.at",
            worker_id, day,
            [str(state)] if state else [str(Status.proposed), str(Status.imposed), str(Status.initial_attended),
                                        str(Status.follow_up_set)],
        )  # fmt: skip
    await ctx.audit.record("inbox.read", detail={"returned": len(rows)})
    return [
        InboxItem(
            assessment_id=r["assessment_id"],
            kind=Kind(r["kind"]),
            appointment_at=r["at"],
            place=r["place"],
            status=Status(r["status"]),
            suite=r["suite"],
            person_id=r["person_id"],
        )
        for r in rows
    ]


@inbox.get(
    "/stream",
    summary="Live: a server-sent event for each new assignment",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def my_inbox_stream(
    request: Request, ctx: AuthContext = Depends(requires(Role.referral_worker))
) -> StreamingResponse:
    worker_id = await _worker_id(ctx)
    broadcaster = request.app.state.inbox
    return StreamingResponse(
        broadcaster.stream(worker_id),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


# -- restriction on bail -------------------------------------------------------------------------------------------


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


def _bail_view(row: asyncpg.Record) -> BailCaseView:
    return BailCaseView(**{k: row[k] for k in BailCaseView.model_fields})


@bail.get(
    "", response_model=list[BailCaseView], summary="Restriction-on-bail notices of an area (court liaison)"
)
async def list_bail(
    area: str = Query(..., max_length=60),
    ctx: AuthContext = Depends(
        requires(Role.court_liaison, Role.custody_officer, Role.referral_manager, area="area")
    ),
) -> list[BailCaseView]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {bail_cases.CASE_COLUMNS} FROM bail_cases WHERE area = $1 ORDER BY updated_at DESC LIMIT 500",
            area,
        )
    await ctx.audit.record("bail_cases.list", detail={"area": area, "returned": len(rows)})
    return [_bail_view(r) for r in rows]


NO_BAIL_CASE = "no restriction-on-bail case for this detention (not charged, or no positive result)"


async def _bail_case(conn: asyncpg.Connection, ctx: AuthContext, detention_id: str) -> asyncpg.Record:
    case = await bail_cases.case_of(conn, detention_id, lock=True)
    if case is None:
        raise Problem(404, NO_BAIL_CASE)
    ctx.require_area(case["area"])
    return case


def on_bail_case(*roles: Role) -> Requirement:
    """``requires(*roles)``, the case in the caller's area, and for a worker the person's required assessment
    assigned to them; before the body is read."""
    caller = requires(*roles)

    async def dependency(detention_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            case = await bail_cases.case_of(conn, detention_id)
            assessment = await repo.assessment_for_detention(conn, detention_id)
        if case is None:
            raise Problem(404, NO_BAIL_CASE)
        ctx.require_area(case["area"])
        principal = ctx.principal
        if principal.role is Role.referral_worker and (
            assessment is None or principal.worker_id not in _workers_of(assessment)
        ):
            raise Problem(403, "this person's assessment is not assigned to you", kind="not-your-assignment")
        return ctx

    dependency.record = "the case is in the caller's area; a worker's, the person assigned to them"  # type: ignore[attr-defined]
    return dependency


AGREE_BAIL = on_bail_case(Role.custody_officer, Role.referral_worker, Role.admin)
DECIDE_BAIL = on_bail_case(Role.court_liaison, Role.admin)
BREACH_BAIL = on_bail_case(
    Role.referral_worker, Role.referral_manager, Role.court_liaison, Role.police_enforcement, Role.admin
)


class AgreementIn(BaseModel):
    agreed: StrictBool = Field(
        description="Whether the person agreed to undergo an assessment (and any follow-up)"
    )
    substantial_grounds: StrictBool | None = Field(
        None,
        description="Substantial grounds that Class A misuse caused, contributed to or motivated the offence",
    )


@bail.post("/{detention_id}/agreement", response_model=BailCaseView, summary="B1: did the person agree?")
async def agreement(
    detention_id: str, body: AgreementIn,
    ctx: AuthContext = Depends(AGREE_BAIL),
) -> BailCaseView:  # fmt: skip
    async with _transaction(ctx) as conn:
        case = await _bail_case(conn, ctx, detention_id)
        await bail_cases.record_agreement(
            conn, detention_id, agreed=body.agreed, substantial_grounds=body.substantial_grounds, at=datetime.now(UTC),
            ctx=handlers.Context(ctx.audit.correlation_id),
        )  # fmt: skip
        await ctx.audit.record("bail.agreement", case["person_id"], conn=conn, detail={"agreed": body.agreed})
        updated = await bail_cases.case_of(conn, detention_id)
    assert updated is not None
    return _bail_view(updated)


class OutcomeIn(BaseModel):
    outcome: str = Field(pattern="^(bail_refused|bail_with_assessment_condition|bail_without_condition)$")
    court: str = Field(min_length=2, max_length=200)
    decided_on: Day


@bail.post("/{detention_id}/outcome", response_model=BailCaseView, summary="B2/B3: the court's decision")
async def outcome(
    detention_id: str, body: OutcomeIn, ctx: AuthContext = Depends(DECIDE_BAIL)
) -> BailCaseView:
    async with _transaction(ctx) as conn:
        case = await _bail_case(conn, ctx, detention_id)
        await bail_cases.record_outcome(
            conn, case, outcome=body.outcome, court=body.court, decided_on=body.decided_on, at=datetime.now(UTC),
            ctx=handlers.Context(ctx.audit.correlation_id),
        )  # fmt: skip
        await ctx.audit.record("bail.outcome", case["person_id"], conn=conn, detail={"outcome": body.outcome})
        updated = await bail_cases.case_of(conn, detention_id)
    assert updated is not None
    return _bail_view(updated)


class BreachIn(BaseModel):
    what: str = Field(min_length=3, max_length=500, description="What condition was broken, and how")
    at: AwareInstant | None = None


@bail.post(
    "/{detention_id}/breach", response_model=BailCaseView, summary="B4: the assessment condition was broken"
)
async def breach(
    detention_id: str, body: BreachIn,
    ctx: AuthContext = Depends(BREACH_BAIL),
) -> BailCaseView:  # fmt: skip
    async with _transaction(ctx) as conn:
        case = await _bail_case(conn, ctx, detention_id)
        await bail_cases.record_breach(
            conn,
            case,
            at=body.at or datetime.now(UTC),
            what=body.what,
            ctx=handlers.Context(ctx.audit.correlation_id),
        )
        await ctx.audit.record(
            "bail.breach", case["person_id"], conn=conn, detail={"detention_id": detention_id}
        )
        updated = await bail_cases.case_of(conn, detention_id)
    assert updated is not None
    return _bail_view(updated)

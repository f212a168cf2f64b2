"""The custody HTTP API: detentions and everything that happens in them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from dipflow.auth import AuthContext, Role, requires
from dipflow.auth.access import Requirement
from dipflow.auth.purposes import PERMITTED, Purpose, purpose_of
from dipflow.http.params import Day, RowId
from dipflow.http.problems import Problem
from dipflow_custody import handlers
from dipflow_custody.adapters import repository as repo
from dipflow_custody.adapters.repository import ConcurrentChange
from dipflow_custody.domain.catalogue import UnknownOffence, drug_vocabulary, offence_types
from dipflow_custody.domain.detention import Authorisation, Detention, RuleViolation
from dipflow_custody.domain.drugs import UnknownDrug
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod
from dipflow_custody.entrypoints.actions import COMMANDS, Reporter
from dipflow_custody.entrypoints.bodies import (
    At,
    BookIn,
    ChargeIn,
    ConfirmationIn,
    DisposalIn,
    FurtherOffence,
    InspectorIn,
    OffenceIn,
    RefusalIn,
    ReleaseIn,
    ResultIn,
    SampleIn,
    WrittenConfirmationIn,
)

router = APIRouter(prefix="/v1/detentions", tags=["detentions"])

WRITERS = (Role.custody_officer, Role.inspector)
READERS = (Role.custody_officer, Role.inspector, Role.admin)
DetentionId = Annotated[str, Path(min_length=36, max_length=36)]


class DecisionView(BaseModel):
    stage: str
    outcome: str
    rule_ids: list[str]
    reason: str
    appropriate_adult_required: bool
    inspector_decision_requested: bool


class AuthorisationView(BaseModel):
    """T3: the inspector's decision as it stands on the custody record."""

    decision: str
    by: str
    rank: str
    grounds: str
    at: datetime
    oral: bool
    written_confirmation: str = Field(
        description="pending (oral, not yet confirmed), confirmed or not_needed"
    )
    written_confirmed_at: datetime | None
    written_confirmed_by: str | None
    person_told_at: datetime | None


class TimeLimitView(BaseModel):
    until: datetime
    rule_ids: list[str]
    reason: str


class ConfirmationView(BaseModel):
    """T12: disputed positives sent for confirmatory analysis."""

    awaiting: list[str]
    dispatched_at: datetime | None
    due_at: datetime | None
    overdue: bool
    results: dict[str, str]


class DetentionView(BaseModel):
    detention_id: str
    person_id: str
    suite: str
    arrested_at: datetime
    booked_in_at: datetime
    offences: list[dict[str, Any]]
    released_for: dict[str, str] = Field(
        default_factory=dict, description="T9: offences the person was released for, and how"
    )
    charged_at: datetime | None
    authorisation: AuthorisationView | None = None
    appropriate_adult_arrived_at: datetime | None = None
    warned_at: datetime | None
    sample_taken_at: datetime | None
    refused_at: datetime | None = None
    results: dict[str, str] | None = Field(description="Per drug; null when withheld (T13)")
    results_withheld: str | None = Field(default=None, description="Why the results are not shown (T13)")
    confirmation: ConfirmationView | None = None
    released_at: datetime | None
    time_limit: TimeLimitView | None = Field(
        default=None, description="T10: until when the person may be held for a sample under the decision"
    )
    decision: DecisionView


def _authorisation(a: Authorisation | None) -> AuthorisationView | None:
    if a is None:
        return None
    return AuthorisationView(
        decision=str(a.decision), by=a.by, rank=a.rank, grounds=a.grounds, at=a.at, oral=a.oral,
        written_confirmation=a.written_confirmation, written_confirmed_at=a.written_confirmed_at,
        written_confirmed_by=a.written_confirmed_by, person_told_at=a.person_told_at,
    )  # fmt: skip


def _confirmation(d: Detention) -> ConfirmationView | None:
    if d.dispatched_at is None and not d.awaiting_confirmation and not d.confirmations:
        return None
    return ConfirmationView(
        awaiting=d.awaiting_confirmation, dispatched_at=d.dispatched_at, due_at=d.confirmation_due_at,
        overdue=d.confirmation_overdue, results={k: str(v) for k, v in d.confirmations.items()},
    )  # fmt: skip


def _view(outcome: handlers.Outcome) -> DetentionView:
    d, decision = outcome.detention, outcome.decision
    limit = d.time_limit(decision) if d.awaiting_sample else None
    return DetentionView(
        detention_id=d.detention_id,
        person_id=d.person_id,
        suite=d.suite,
        arrested_at=d.arrested_at,
        booked_in_at=d.booked_in_at,
        offences=[
            {
                "code": o.code,
                "offence_date": o.offence_date,
                "attempt": o.attempt,
                "drug": o.drug,
                "drug_class": o.drug_class,
            }
            for o in d.offences
        ],
        released_for={code: str(x.disposal) for code, x in d.disposals.items()},
        charged_at=d.charged_at,
        authorisation=_authorisation(d.authorisation),
        appropriate_adult_arrived_at=d.adult_arrived_at,
        warned_at=d.warned_at,
        sample_taken_at=d.sample_taken_at,
        refused_at=d.refused_at,
        results={k: str(r.value) for k, r in d.results.items()},
        confirmation=_confirmation(d),
        released_at=d.released_at,
        time_limit=TimeLimitView(until=limit.until, rule_ids=list(limit.rule_ids), reason=limit.reason)
        if limit
        else None,
        decision=DecisionView(
            stage=str(decision.stage),
            outcome=str(decision.outcome),
            rule_ids=list(decision.rule_ids),
            reason=decision.reason,
            appropriate_adult_required=decision.appropriate_adult_required,
            inspector_decision_requested=decision.inspector_decision_requested,
        ),
    )


def _withheld(view: DetentionView, ctx: AuthContext) -> DetentionView:
    """T13: the detention without its test results, for a read that names no purpose the role may read them
    for."""
    permitted = sorted(PERMITTED[ctx.principal.role] & frozenset(DETENTION_PURPOSES))
    why = (
        f"test results are shown for a stated purpose (T13): add ?purpose= one of {', '.join(permitted)}"
        if permitted
        else f"the role {ctx.principal.role} does not see individual test results (T13)"
    )
    return view.model_copy(update={"results": None, "confirmation": None, "results_withheld": why})


def _area_check(ctx: AuthContext) -> Callable[[str], None]:
    return ctx.require_area


def on_detention(*roles: Role) -> Requirement:
    """``requires(*roles)``, and the detention's custody suite is in an area the caller covers: checked before
    the body is read, so a caller who may not act on it learns nothing from a 422."""
    caller = requires(*roles)

    async def dependency(detention_id: DetentionId, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            area = await repo.detention_area(conn, detention_id)
        if area is None:
            raise Problem(404, "no such detention")
        ctx.require_area(area)
        return ctx

    dependency.record = "the detention's suite is in the caller's area"  # type: ignore[attr-defined]
    return dependency


WRITE = on_detention(*WRITERS)
READ = on_detention(*READERS)
DECIDE = on_detention(Role.inspector)
DETENTION_PURPOSES = (
    Purpose.bail,
    Purpose.conditional_caution,
    Purpose.required_assessment,
    Purpose.prosecution,
)


async def _run(call: Any) -> DetentionView:
    try:
        return _view(await call)
    except RuleViolation as exc:
        raise Problem(409, exc.reason, kind="rule-violation", rule_id=exc.rule_id) from exc
    except UnknownOffence as exc:
        raise _unknown_offence(exc) from exc
    except UnknownDrug as exc:
        raise Problem(
            422,
            f"unknown drug {exc.name!r}",
            kind="unknown-drug",
            errors=[{"field": "body.drug", "reason": f"known drugs: {', '.join(exc.known)}"}],
            known_drugs=exc.known,
        ) from exc
    except handlers.UnknownSuite as exc:
        raise Problem(
            422,
            f"unknown custody suite {exc.suite!r}",
            kind="unknown-suite",
            errors=[{"field": "body.suite", "reason": f"known suites: {', '.join(exc.known)}"}],
        ) from exc
    except handlers.NotFound as exc:
        raise Problem(404, "no such detention") from exc
    except handlers.NotThisPersons as exc:  # pragma: no cover - only commands from the topic are checked
        raise Problem(409, "the detention is another person's") from exc
    except ConcurrentChange as exc:
        raise Problem(409, "the detention changed at the same time; retry", kind="concurrent-change") from exc


def _unknown_offence(exc: UnknownOffence) -> Problem:
    return Problem(
        422,
        f"unknown offence code {exc.code!r}",
        kind="unknown-offence-code",
        errors=[{"field": "offences.code", "reason": f"known codes: {', '.join(exc.known)}"}],
        known_codes=exc.known,
    )


def _check_codes(offences: list[OffenceIn]) -> None:
    known = offence_types()
    for o in offences:
        if o.code not in known:
            raise _unknown_offence(UnknownOffence(o.code))


@router.post("", status_code=201, response_model=DetentionView, summary="Book a person in")
async def book_in(body: BookIn, ctx: AuthContext = Depends(requires(*WRITERS))) -> DetentionView:
    _check_codes(body.offences)
    booked = body.booked_in_at or datetime.now(UTC)
    return await _run(
        handlers.in_transaction(
            ctx.audit.pool,
            lambda conn: handlers.book_in(
                conn,
                ctx.audit,
                person_id=body.person_id,
                name=body.name,
                date_of_birth=body.date_of_birth,
                home_area=body.home_area,
                suite=body.suite,
                arrested_at=body.arrested_at,
                booked_in_at=booked,
                offences=[o.domain() for o in body.offences],
                check_area=_area_check(ctx),
            ),
        )
    )


def _act(ctx: AuthContext, request: Request, detention_id: str, name: str, body: BaseModel) -> Any:
    """Run the command ``name`` (its route's action) with ``body``, reported by the signed-in officer now."""
    reporter = Reporter(
        by=ctx.principal.subject,
        default_at=datetime.now(UTC),
        confirmation_working_days=request.app.state.resources.settings.confirmation_working_days,
    )
    action = COMMANDS[name].build(body, reporter)
    return _run(
        handlers.in_transaction(
            ctx.audit.pool,
            lambda conn: handlers.act(
                conn, ctx.audit, detention_id, action, name=name, check_area=_area_check(ctx)
            ),
        )
    )


@router.get(
    "/{detention_id}", response_model=DetentionView, summary="A detention and its current test decision"
)
async def read(
    detention_id: DetentionId,
    purpose: Annotated[
        Purpose | None,
        Query(description="What the test results are read for (T13); without one they are not shown"),
    ] = None,
    ctx: AuthContext = Depends(READ),
) -> DetentionView:
    reading = purpose_of(ctx.principal, purpose, DETENTION_PURPOSES)
    view = await _run(
        handlers.read(ctx.audit.pool, ctx.audit, detention_id, _area_check(ctx), purpose=reading)
    )
    return view if reading is not None else _withheld(view, ctx)


@router.post(
    "/{detention_id}/offences", response_model=DetentionView, summary="Add an offence or a further arrest"
)
async def add_offence(
    detention_id: DetentionId,
    body: FurtherOffence,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    _check_codes([body.offence])
    return await _act(ctx, request, detention_id, "offences", body)


@router.post("/{detention_id}/charge", response_model=DetentionView, summary="Charge")
async def charge(
    detention_id: DetentionId,
    body: ChargeIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "charge", body)


@router.post(
    "/{detention_id}/inspector-decision",
    response_model=DetentionView,
    summary="Inspector authorises or declines a test (T3)",
)
async def inspector_decision(
    detention_id: DetentionId,
    body: InspectorIn,
    request: Request,
    ctx: AuthContext = Depends(DECIDE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "inspector_decision", body)


@router.post(
    "/{detention_id}/appropriate-adult",
    response_model=DetentionView,
    summary="An appropriate adult is present (T5)",
)
async def appropriate_adult(
    detention_id: DetentionId, body: At, request: Request, ctx: AuthContext = Depends(WRITE)
) -> DetentionView:
    return await _act(ctx, request, detention_id, "appropriate_adult", body)


@router.post("/{detention_id}/warning", response_model=DetentionView, summary="The warning was given (T6)")
async def warning(
    detention_id: DetentionId, body: At, request: Request, ctx: AuthContext = Depends(WRITE)
) -> DetentionView:
    return await _act(ctx, request, detention_id, "warning", body)


@router.post("/{detention_id}/sample", response_model=DetentionView, summary="A sample was taken (T7, T8)")
async def sample(
    detention_id: DetentionId,
    body: SampleIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "sample", body)


@router.post(
    "/{detention_id}/results", response_model=DetentionView, summary="A result for one drug (T12, T14)"
)
async def result(
    detention_id: DetentionId,
    body: ResultIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "results", body)


@router.post(
    "/{detention_id}/refusal", response_model=DetentionView, summary="Failure to give a sample (T11)"
)
async def refusal(
    detention_id: DetentionId,
    body: RefusalIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "refusal", body)


@router.post("/{detention_id}/release", response_model=DetentionView, summary="Release")
async def release(
    detention_id: DetentionId,
    body: ReleaseIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "release", body)


reference = APIRouter(prefix="/v1", tags=["reference data"])


@reference.get("/offence-codes", summary="The offence codes this service knows")
async def offence_codes(ctx: AuthContext = Depends(requires())) -> list[dict[str, str]]:
    return [
        {"code": o.code, "statute": o.statute, "section": o.section, "title": o.title}
        for o in offence_types().values()
    ]


class PpoStatusView(BaseModel):
    person_id: str
    is_ppo: bool
    borough: str | None


def on_ppo_person(*roles: Role) -> Requirement:
    """``requires(*roles)``, and the caller is custody of the force whose register holds the person, or of a
    suite where the person is detained now; anyone else gets a 403, whether the person is a PPO or not."""
    caller = requires(*roles)

    async def dependency(person_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            borough = await repo.ppo_borough(conn, person_id)
            detained_in = await repo.open_detention_areas(conn, person_id)
        own_force = borough is not None and ctx.principal.in_force_of(borough)
        if not own_force and not any(ctx.principal.covers(area) for area in detained_in):
            raise Problem(
                403,
                "you may see the PPO status of people on your force's register or detained at your suites",
                kind="wrong-area",
            )
        return ctx

    dependency.record = "the person is on the caller's force's register, or detained in the caller's area"  # type: ignore[attr-defined]
    return dependency


PPO_STATUS_READER = on_ppo_person(Role.custody_officer, Role.inspector)


@reference.get(
    "/ppo-status/{person_id:path}",
    response_model=PpoStatusView,
    summary="T4: whether custody knows the person as a PPO (its copy of the register)",
)
async def ppo_status(person_id: str, ctx: AuthContext = Depends(PPO_STATUS_READER)) -> PpoStatusView:
    async with ctx.audit.pool.acquire() as conn:
        borough = await repo.ppo_borough(conn, person_id)
    await ctx.audit.record("ppo_status.read", person_id)
    return PpoStatusView(person_id=person_id, is_ppo=borough is not None, borough=borough)


@router.post(
    "/{detention_id}/confirmatory-result",
    response_model=DetentionView,
    summary="Confirmatory analysis result (T12)",
)
async def confirmatory_result(
    detention_id: DetentionId,
    body: ConfirmationIn,
    request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:
    return await _act(ctx, request, detention_id, "confirmatory_result", body)


@router.post(
    "/{detention_id}/offence-disposal",
    response_model=DetentionView,
    summary="T9: released for one offence (no further action, charged or bailed), still detained for another",
)
async def offence_disposal(
    detention_id: DetentionId, body: DisposalIn, request: Request,
    ctx: AuthContext = Depends(WRITE),
) -> DetentionView:  # fmt: skip
    return await _act(ctx, request, detention_id, "offence_disposal", body)


@router.post(
    "/{detention_id}/written-confirmation",
    response_model=DetentionView,
    summary="T3: the inspector confirms an oral decision in writing",
)
async def written_confirmation(
    detention_id: DetentionId, body: WrittenConfirmationIn, request: Request,
    ctx: AuthContext = Depends(DECIDE),
) -> DetentionView:  # fmt: skip
    return await _act(ctx, request, detention_id, "written_confirmation", body)


@router.post(
    "/{detention_id}/person-told",
    response_model=DetentionView,
    summary="T3: the person was told of the authorisation and its grounds",
)
async def person_told(
    detention_id: DetentionId, body: At, request: Request, ctx: AuthContext = Depends(WRITE)
) -> DetentionView:
    return await _act(ctx, request, detention_id, "person_told", body)


@router.post(
    "/{detention_id}/confirmation-dispatch",
    response_model=DetentionView,
    summary="T12: the disputed sample was sent for confirmatory analysis",
)
async def confirmation_dispatch(
    detention_id: DetentionId, body: At, request: Request, ctx: AuthContext = Depends(WRITE)
) -> DetentionView:
    return await _act(ctx, request, detention_id, "confirmation_dispatch", body)


class DrugView(BaseModel):
    name: str
    synonyms: list[str]
    classes: list[dict[str, Any]]
    specified: list[dict[str, Any]]


@reference.get("/drugs", response_model=list[DrugView], summary="T14: the controlled-drug vocabulary")
async def drugs(ctx: AuthContext = Depends(requires())) -> list[DrugView]:
    return [
        DrugView(
            name=d.name,
            synonyms=list(d.synonyms),
            classes=[
                {"class": c.drug_class, "from": c.period.valid_from, "to": c.period.valid_to}
                for c in d.classes
            ],
            specified=[{"from": p.valid_from, "to": p.valid_to} for p in d.specified],
        )
        for d in drug_vocabulary()
    ]


class OpenItem(BaseModel):
    kind: str = Field(
        description="inspector_decision_requested (T4), written_confirmation_pending (T3) or "
        "confirmation_overdue (T12)"
    )
    detention_id: str
    person_id: str
    suite: str
    since: datetime
    rule_ids: list[str]
    detail: str


@reference.get(
    "/open-items",
    response_model=list[OpenItem],
    summary="What custody and inspectors still owe at a suite: inspector decisions, written confirmations, "
    "overdue confirmatory results",
)
async def open_items(
    suite: str = Query(..., min_length=2, max_length=60),
    ctx: AuthContext = Depends(requires(Role.inspector, Role.custody_officer)),
) -> list[OpenItem]:
    async with ctx.audit.pool.acquire() as conn:
        place = await repo.suite_force_and_area(conn, suite)
        if place is None:
            raise Problem(404, "no such custody suite")
        ctx.require_area(place[1])
        items = await handlers.open_items(conn, suite)
    return [OpenItem(**vars(item)) for item in items]


# --- station notifications (reference data) -------------------------------------------------------------

notifications = APIRouter(prefix="/v1/notifications", tags=["station notifications"])


class NotificationIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"place": "MET-CAMDEN", "kind": "under_18_testing", "valid_from": "2009-04-01"}]
        }
    }

    place: str = Field(
        min_length=2, max_length=60, description="A custody suite id, or an area for assessments/bail"
    )
    kind: NotificationKind
    valid_from: Day
    valid_to: Day | None = None


class NotificationView(NotificationIn):
    id: int


class EndNotification(BaseModel):
    valid_to: Day


@notifications.get(
    "", response_model=list[NotificationView], summary="Notifications, optionally for one place"
)
async def list_notifications(
    place: str | None = Query(None, max_length=60), ctx: AuthContext = Depends(requires())
) -> list[NotificationView]:
    async with ctx.audit.pool.acquire() as conn:
        return [NotificationView(**row) for row in await repo.list_notifications(conn, place)]


@notifications.post("", status_code=201, response_model=NotificationView, summary="Notify a place (admins)")
async def add_notification(
    body: NotificationIn, ctx: AuthContext = Depends(requires(Role.admin))
) -> NotificationView:
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise Problem(
            422,
            "valid_to is before valid_from",
            errors=[{"field": "body.valid_to", "reason": "before valid_from"}],
        )
    period = NotificationPeriod(body.place, body.kind, body.valid_from, body.valid_to)
    async with ctx.audit.pool.acquire() as conn, conn.transaction():
        new_id = await repo.add_notification(conn, period)
        if new_id is None:
            raise Problem(
                409,
                f"{body.place} already has a {body.kind} notification overlapping these dates",
                kind="overlapping-notification",
            )
        await ctx.audit.record("notification.add", conn=conn, detail={"id": new_id, "place": body.place})
    return NotificationView(id=new_id, **body.model_dump())


@notifications.post(
    "/{notification_id}/end", status_code=204, summary="End a notification on a date (admins)"
)
async def end_notification(
    notification_id: RowId, body: EndNotification, ctx: AuthContext = Depends(requires(Role.admin))
) -> None:
    async with ctx.audit.pool.acquire() as conn, conn.transaction():
        if not await repo.end_notification(conn, notification_id, body.valid_to):
            starts = await repo.notification_start(conn, notification_id)
            if starts is None:
                raise Problem(404, "no such notification")
            # It exists: a 404 here said otherwise (found by the stateful fuzzing: created, then "not found").
            raise Problem(
                422,
                f"the notification starts on {starts}: it cannot end before that",
                errors=[{"field": "body.valid_to", "reason": f"before valid_from ({starts})"}],
            )
        await ctx.audit.record("notification.end", conn=conn, detail={"id": notification_id})


# --- measures ---------------------------------------------------------------------------------------------

measures = APIRouter(prefix="/v1/measures", tags=["measures"])


class K5Row(BaseModel):
    suite: str
    month: str
    tests: int
    kit_cost_gbp: Decimal


@measures.get(
    "/k5", response_model=list[K5Row], summary="K5: tests performed and kit cost by suite and month"
)
async def k5(
    request: Request,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    ctx: AuthContext = Depends(requires(Role.analyst, Role.admin, Role.inspector)),
) -> list[K5Row]:
    kit: Decimal = request.app.state.resources.settings.kit_cost_gbp
    async with ctx.audit.pool.acquire() as conn:
        rows = await repo.tests_by_suite_and_month(conn, since, until)
    return [
        K5Row(suite=r["suite"], month=r["month"], tests=r["tests"], kit_cost_gbp=kit * r["tests"])
        for r in rows
    ]


@reference.get(
    "/inspector-requests",
    response_model=list[DetentionView],
    summary="T4: detentions in a suite waiting for an inspector's test decision",
)
async def inspector_requests(
    suite: str = Query(..., min_length=2, max_length=60),
    ctx: AuthContext = Depends(requires(Role.inspector, Role.custody_officer)),
) -> list[DetentionView]:
    async with ctx.audit.pool.acquire() as conn:
        place = await repo.suite_force_and_area(conn, suite)
        if place is None:
            raise Problem(404, "no such custody suite")
        ctx.require_area(place[1])
        waiting = await handlers.open_inspector_requests(conn, suite)
    return [_view(outcome) for outcome in waiting]

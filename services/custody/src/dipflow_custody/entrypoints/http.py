"""The custody HTTP API: detentions and everything that happens in them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from dipflow.auth import AuthContext, Role, requires
from dipflow.http.params import Day, RowId
from dipflow.http.problems import Problem
from dipflow_custody import handlers
from dipflow_custody.adapters import repository as repo
from dipflow_custody.adapters.repository import ConcurrentChange
from dipflow_custody.domain.catalogue import UnknownOffence, offence_types
from dipflow_custody.domain.detention import (
    Change,
    Detention,
    RuleViolation,
)
from dipflow_custody.domain.eligibility import TestDecision
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod
from dipflow_custody.entrypoints.actions import ACTIONS
from dipflow_custody.entrypoints.bodies import (
    At,
    BookIn,
    ChargeIn,
    ConfirmationIn,
    FurtherOffence,
    InspectorIn,
    OffenceIn,
    RefusalIn,
    ReleaseIn,
    ResultIn,
    SampleIn,
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


class DetentionView(BaseModel):
    detention_id: str
    person_id: str
    suite: str
    arrested_at: datetime
    offences: list[dict[str, Any]]
    charged_at: datetime | None
    warned_at: datetime | None
    sample_taken_at: datetime | None
    refused_at: datetime | None = None
    results: dict[str, str]
    released_at: datetime | None
    decision: DecisionView


def _view(outcome: handlers.Outcome) -> DetentionView:
    d, decision = outcome.detention, outcome.decision
    return DetentionView(
        detention_id=d.detention_id,
        person_id=d.person_id,
        suite=d.suite,
        arrested_at=d.arrested_at,
        offences=[{"code": o.code, "offence_date": o.offence_date, "attempt": o.attempt} for o in d.offences],
        charged_at=d.charged_at,
        warned_at=d.warned_at,
        sample_taken_at=d.sample_taken_at,
        refused_at=d.refused_at,
        results={k: str(r.value) for k, r in d.results.items()},
        released_at=d.released_at,
        decision=DecisionView(
            stage=str(decision.stage),
            outcome=str(decision.outcome),
            rule_ids=list(decision.rule_ids),
            reason=decision.reason,
            appropriate_adult_required=decision.appropriate_adult_required,
            inspector_decision_requested=decision.inspector_decision_requested,
        ),
    )


def _force_check(ctx: AuthContext) -> Callable[[str], None]:
    return ctx.require_area


async def _run(call: Any) -> DetentionView:
    try:
        return _view(await call)
    except RuleViolation as exc:
        raise Problem(409, exc.reason, kind="rule-violation", rule_id=exc.rule_id) from exc
    except UnknownOffence as exc:
        raise _unknown_offence(exc) from exc
    except handlers.UnknownSuite as exc:
        raise Problem(
            422,
            f"unknown custody suite {exc.suite!r}",
            kind="unknown-suite",
            errors=[{"field": "body.suite", "reason": f"known suites: {', '.join(exc.known)}"}],
        ) from exc
    except handlers.NotFound as exc:
        raise Problem(404, "no such detention") from exc
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
                check_force=_force_check(ctx),
            ),
        )
    )


def _act(
    ctx: AuthContext, detention_id: str, name: str, action: Callable[[Detention, TestDecision], Change | None]
) -> Any:
    return _run(
        handlers.in_transaction(
            ctx.audit.pool,
            lambda conn: handlers.act(
                conn, ctx.audit, detention_id, action, name=name, check_force=_force_check(ctx)
            ),
        )
    )


@router.get(
    "/{detention_id}", response_model=DetentionView, summary="A detention and its current test decision"
)
async def read(detention_id: DetentionId, ctx: AuthContext = Depends(requires(*READERS))) -> DetentionView:
    return await _run(handlers.read(ctx.audit.pool, ctx.audit, detention_id, _force_check(ctx)))


@router.post(
    "/{detention_id}/offences", response_model=DetentionView, summary="Add an offence or a further arrest"
)
async def add_offence(
    detention_id: DetentionId, body: FurtherOffence, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    _check_codes([body.offence])
    return await _act(ctx, detention_id, "add_offence", ACTIONS["add_offence"][1](body))


@router.post("/{detention_id}/charge", response_model=DetentionView, summary="Charge")
async def charge(
    detention_id: DetentionId, body: ChargeIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "charge", ACTIONS["charge"][1](body))


@router.post(
    "/{detention_id}/inspector-decision",
    response_model=DetentionView,
    summary="Inspector authorises or declines a test (T3)",
)
async def inspector_decision(
    detention_id: DetentionId, body: InspectorIn, ctx: AuthContext = Depends(requires(Role.inspector))
) -> DetentionView:
    return await _act(ctx, detention_id, "inspector_decision", ACTIONS["inspector_decision"][1](body))


@router.post(
    "/{detention_id}/appropriate-adult",
    response_model=DetentionView,
    summary="An appropriate adult is present (T5)",
)
async def appropriate_adult(
    detention_id: DetentionId, body: At, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "appropriate_adult", ACTIONS["appropriate_adult"][1](body))


@router.post("/{detention_id}/warning", response_model=DetentionView, summary="The warning was given (T6)")
async def warning(
    detention_id: DetentionId, body: At, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "warning", ACTIONS["warning"][1](body))


@router.post("/{detention_id}/sample", response_model=DetentionView, summary="A sample was taken (T7, T8)")
async def sample(
    detention_id: DetentionId, body: SampleIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "sample", ACTIONS["sample"][1](body))


@router.post(
    "/{detention_id}/results", response_model=DetentionView, summary="A result for one drug (T12, T14)"
)
async def result(
    detention_id: DetentionId, body: ResultIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "result", ACTIONS["result"][1](body))


@router.post(
    "/{detention_id}/refusal", response_model=DetentionView, summary="Failure to give a sample (T11)"
)
async def refusal(
    detention_id: DetentionId, body: RefusalIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "refusal", ACTIONS["refusal"][1](body))


@router.post("/{detention_id}/release", response_model=DetentionView, summary="Release")
async def release(
    detention_id: DetentionId, body: ReleaseIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "release", ACTIONS["release"][1](body))


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


@reference.get(
    "/ppo-status/{person_id:path}",
    response_model=PpoStatusView,
    summary="T4: whether custody knows the person as a PPO (its copy of the register)",
)
async def ppo_status(
    person_id: str, ctx: AuthContext = Depends(requires(Role.custody_officer, Role.inspector))
) -> PpoStatusView:
    async with ctx.audit.pool.acquire() as conn:
        borough = await conn.fetchval("SELECT borough FROM ppo_register WHERE person_id = $1", person_id)
    await ctx.audit.record("ppo_status.read", person_id)
    return PpoStatusView(person_id=person_id, is_ppo=borough is not None, borough=borough)


@router.post(
    "/{detention_id}/confirmatory-result",
    response_model=DetentionView,
    summary="Confirmatory analysis result (T12)",
)
async def confirmatory_result(
    detention_id: DetentionId, body: ConfirmationIn, ctx: AuthContext = Depends(requires(*WRITERS))
) -> DetentionView:
    return await _act(ctx, detention_id, "confirmatory_result", ACTIONS["confirmatory_result"][1](body))


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
        force = await repo.suite_force_and_area(conn, suite)
        if force is None:
            raise Problem(404, "no such custody suite")
        ctx.require_area(force[0])
        waiting = await handlers.open_inspector_requests(conn, suite)
    return [_view(outcome) for outcome in waiting]

"""The breach API for probation liaison and police enforcement: DRR orders and compliance, breach cases,
arrest requests, the notification feed and webhook, and K3."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StrictBool

from dipflow.auth import AuthContext, Role, requires
from dipflow.auth.access import Requirement
from dipflow.http.params import BIGINT_MAX, AwareInstant, Day
from dipflow.http.problems import Problem
from dipflow_breach import handlers
from dipflow_breach.commands import ComplianceRecorded, OrderEnded, OrderMade
from dipflow_breach.domain.arrests import ArrestOutcome, ArrestPolicy
from dipflow_breach.domain.arrests import k3 as k3_rows
from dipflow_breach.domain.drr import ComplianceKind

orders = APIRouter(prefix="/v1/orders", tags=["DRR orders"])
cases = APIRouter(prefix="/v1/breach-cases", tags=["breach cases"])
arrests = APIRouter(prefix="/v1/arrest-requests", tags=["arrest requests"])
feed = APIRouter(prefix="/v1", tags=["notifications"])
measures = APIRouter(prefix="/v1/measures", tags=["measures"])

LIAISON = (Role.probation_liaison, Role.admin)
PERSON_ID = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"


def _policy(request: Request) -> ArrestPolicy:
    policy: ArrestPolicy = request.app.state.resources.settings.arrest_policy()
    return policy


@asynccontextmanager
async def _transaction(ctx: AuthContext) -> AsyncIterator[asyncpg.Connection]:
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            yield conn
    except handlers.RuleViolation as exc:
        raise Problem(409, exc.reason, kind="rule-violation", rule_id=exc.rule_id) from exc
    except handlers.NotFound as exc:
        raise Problem(404, "not found") from exc


def _on_record(*roles: Role, table: str, key: str, what: str) -> Requirement:
    """``requires(*roles)`` and the record's area covered by the caller, before the body is read or anything
    written."""
    caller = requires(*roles)

    async def dependency(request: Request, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            area = await handlers.area_of(conn, table, key, request.path_params[key])
        if area is None:
            raise Problem(404, f"no such {what}")
        ctx.require_area(area)
        return ctx

    dependency.record = f"the {what}'s area is the caller's"  # type: ignore[attr-defined]
    return dependency


ON_ORDER = _on_record(*LIAISON, table="orders", key="order_id", what="order")
ON_CASE = _on_record(*LIAISON, table="breach_cases", key="case_id", what="breach case")


class OrderIn(OrderMade):
    model_config = {"json_schema_extra": {"examples": [
        {"person_id": "08/123456X", "order_id": "DRR-2008-0001", "area": "lambeth", "court": "Camberwell Green",
         "start_date": "2008-01-14", "treatment_months": 12, "responsible_officer": "PO Smith"}]}}  # fmt: skip

    person_id: str = Field(pattern=PERSON_ID)


@orders.post("", status_code=201, summary="A court made a DRR order")
async def make_order(body: OrderIn, ctx: AuthContext = Depends(requires(*LIAISON))) -> dict[str, Any]:
    ctx.require_area(body.area)
    async with _transaction(ctx) as conn:
        created = await handlers.make_order(conn, body.person_id, body)
        await ctx.audit.record("order.make", body.person_id, conn=conn, detail={"order_id": body.order_id})
    return {"order_id": body.order_id, "created": created}


async def _order(conn: asyncpg.Connection, ctx: AuthContext, order_id: str) -> asyncpg.Record:
    order = await handlers.load_order(conn, order_id)
    ctx.require_area(order["area"])
    return order


@orders.get("/{order_id}", summary="An order with its compliance records, warnings and breach cases")
async def get_order(order_id: str, ctx: AuthContext = Depends(ON_ORDER)) -> dict[str, Any]:
    async with _transaction(ctx) as conn:
        order = await _order(conn, ctx, order_id)
        records = await conn.fetch(
            "SELECT record_id, kind, on_date, reason, result, decision, rule_ids, explanation FROM compliance "
            "WHERE order_id = $1 ORDER BY on_date, id", order_id)  # fmt: skip
        warnings = await conn.fetch(
            "SELECT issued_on, reason, text FROM warnings WHERE order_id = $1 ORDER BY issued_on", order_id
        )
        breach = await conn.fetch(
            "SELECT * FROM breach_cases WHERE order_id = $1 ORDER BY failure_on", order_id
        )
        ppo = await handlers.is_ppo(conn, order["person_id"])
        await ctx.audit.record("order.read", order["person_id"], conn=conn, detail={"order_id": order_id})
    return {"order": dict(order), "ppo": ppo,
            "compliance": [dict(r) for r in records], "warnings": [dict(w) for w in warnings],
            "breach_cases": [dict(b) for b in breach]}  # fmt: skip


class ComplianceIn(BaseModel):
    record_id: str | None = Field(
        None, min_length=2, max_length=100, description="Your id; a repeat is ignored"
    )
    kind: ComplianceKind
    on: Day
    reason: str | None = Field(None, max_length=500)
    result: str | None = Field(None, pattern="^(positive|negative)$")
    straight_to_breach: StrictBool = False


class OutcomeView(BaseModel):
    decision: str
    rule_ids: list[str]
    reason: str
    enforcement_due: date | None
    hearing_due: date | None
    warning_text: str | None = Field(None, description="D2: the formal warning as given, when one was issued")


@orders.post(
    "/{order_id}/compliance", response_model=OutcomeView, summary="D1-D4: record compliance, get the outcome"
)
async def compliance(
    order_id: str, body: ComplianceIn, request: Request, ctx: AuthContext = Depends(ON_ORDER)
) -> OutcomeView:
    async with _transaction(ctx) as conn:
        order = await _order(conn, ctx, order_id)
        record = ComplianceRecorded(order_id=order_id, record_id=body.record_id or str(uuid.uuid4()), kind=body.kind,
                                    on=body.on, reason=body.reason, result=body.result,
                                    straight_to_breach=body.straight_to_breach)  # fmt: skip
        outcome = await handlers.record_compliance(conn, record, policy=_policy(request),
                                                   ctx=handlers.Context(ctx.audit.correlation_id))  # fmt: skip
        await ctx.audit.record("order.compliance", order["person_id"], conn=conn,
                               detail={"order_id": order_id, "decision": str(outcome.decision)})  # fmt: skip
    return OutcomeView(decision=str(outcome.decision), rule_ids=list(outcome.rule_ids), reason=outcome.reason,
                       enforcement_due=outcome.enforcement_due, hearing_due=outcome.hearing_due,
                       warning_text=outcome.warning_text)  # fmt: skip


class EndIn(BaseModel):
    ended_on: Day
    reason: str = Field(min_length=2, max_length=200)


@orders.post("/{order_id}/end", status_code=204, summary="The order ended")
async def end_order(order_id: str, body: EndIn, ctx: AuthContext = Depends(ON_ORDER)) -> None:
    async with _transaction(ctx) as conn:
        order = await _order(conn, ctx, order_id)
        await handlers.end_order(
            conn, OrderEnded(order_id=order_id, ended_on=body.ended_on, reason=body.reason)
        )
        await ctx.audit.record("order.end", order["person_id"], conn=conn, detail={"order_id": order_id})


class HighRiskIn(BaseModel):
    high_risk: StrictBool


@orders.post("/{order_id}/high-risk", status_code=204, summary="Flag the offender high-risk (D5 fast track)")
async def high_risk(order_id: str, body: HighRiskIn, ctx: AuthContext = Depends(ON_ORDER)) -> None:
    async with _transaction(ctx) as conn:
        order = await _order(conn, ctx, order_id)
        await handlers.set_high_risk(conn, order_id, body.high_risk)
        await ctx.audit.record(
            "order.high_risk", order["person_id"], conn=conn, detail={"high_risk": body.high_risk}
        )


@cases.get("", summary="Breach cases of an area, with due dates and escalations")
async def list_cases(
    area: str = Query(..., max_length=60), ctx: AuthContext = Depends(requires(*LIAISON, area="area"))
) -> list[dict[str, Any]]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM breach_cases WHERE area = $1 ORDER BY opened_at DESC LIMIT 500", area
        )
    await ctx.audit.record("breach_cases.list", detail={"area": area, "returned": len(rows)})
    return [dict(r) for r in rows]


class EnforcementIn(BaseModel):
    action: Literal["summons", "warrant", "other"]
    at: AwareInstant | None = None


@cases.post("/{case_id}/enforcement", status_code=204, summary="D4: enforcement action taken")
async def enforcement(case_id: str, body: EnforcementIn, ctx: AuthContext = Depends(ON_CASE)) -> None:
    async with _transaction(ctx) as conn:
        case = await handlers.record_enforcement(conn, case_id, body.action, body.at or datetime.now(UTC))
        ctx.require_area(case["area"])
        await ctx.audit.record(
            "breach.enforcement", case["person_id"], conn=conn, detail={"case_id": case_id}
        )


class HearingIn(BaseModel):
    on: Day


@cases.post("/{case_id}/hearing", status_code=204, summary="D4: first breach hearing held")
async def hearing(case_id: str, body: HearingIn, ctx: AuthContext = Depends(ON_CASE)) -> None:
    async with _transaction(ctx) as conn:
        case = await handlers.record_hearing(conn, case_id, body.on)
        ctx.require_area(case["area"])
        await ctx.audit.record("breach.hearing", case["person_id"], conn=conn, detail={"case_id": case_id})


@arrests.get("", summary="Arrest requests of an area (police enforcement: their borough)")
async def list_arrests(
    area: str = Query(..., max_length=60),
    open_only: bool = Query(False, alias="open"),
    ctx: AuthContext = Depends(requires(Role.police_enforcement, *LIAISON, area="area")),
) -> list[dict[str, Any]]:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM arrest_requests WHERE area = $1 AND (NOT $2 OR (arrested_at IS NULL AND cancelled_at IS NULL)) "
            "ORDER BY requested_at DESC LIMIT 500", area, open_only)  # fmt: skip
    await ctx.audit.record("arrest_requests.list", detail={"area": area, "returned": len(rows)})
    return [dict(r) for r in rows]


class WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://", max_length=500)
    secret: str = Field(min_length=16, max_length=200)


@feed.put(
    "/liaison/{area}/webhook", status_code=204, summary="Where probation liaison of an area is notified"
)
async def put_webhook(
    area: str, body: WebhookIn, ctx: AuthContext = Depends(requires(*LIAISON, area="area"))
) -> None:
    async with _transaction(ctx) as conn:
        await conn.execute(
            "INSERT INTO liaison_webhooks (area, url, secret) VALUES ($1, $2, $3) ON CONFLICT (area) DO UPDATE "
            "SET url = $2, secret = $3, updated_at = now()", area, body.url, body.secret)  # fmt: skip
        await ctx.audit.record("liaison.webhook", conn=conn, detail={"area": area})


class FeedPage(BaseModel):
    items: list[dict[str, Any]]
    next_after: int | None


@feed.get("/notifications", response_model=FeedPage, summary="The notification feed (stable ids; cursor)")
async def notifications(
    area: str = Query(..., max_length=60),
    after: int = Query(0, ge=0, le=BIGINT_MAX, description="The seq of the last item you have"),
    limit: int = Query(100, ge=1, le=500),
    ctx: AuthContext = Depends(requires(*LIAISON, area="area")),
) -> FeedPage:
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT seq, notification_id, kind, body, created_at, attempts, delivered_at, dead_lettered_at, last_error "
            "FROM notifications WHERE area = $1 AND seq > $2 ORDER BY seq LIMIT $3", area, after, limit)  # fmt: skip
    await ctx.audit.record("notifications.read", detail={"area": area, "returned": len(rows)})
    items = [{**dict(r), "notification_id": str(r["notification_id"])} for r in rows]
    return FeedPage(items=items, next_after=rows[-1]["seq"] if len(rows) == limit else None)


class K3Group(BaseModel):
    source: str
    borough: str
    ppo: bool
    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    max_hours: float | None
    within_target: int
    buckets: dict[str, int]
    still_open: int


@measures.get("/k3", response_model=list[K3Group], summary="K3: time to arrest, with its distribution")
async def k3(
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    ctx: AuthContext = Depends(requires(Role.analyst, *LIAISON, Role.police_enforcement)),
) -> list[K3Group]:
    """By source, borough and PPO status, for requests made in the period."""
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT source, area, ppo, requested_at, arrested_at, deadline_at FROM arrest_requests "
            "WHERE cancelled_at IS NULL AND (requested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2",
            since, until)  # fmt: skip
    outcomes = [
        ArrestOutcome(r["source"], r["area"], r["ppo"], r["requested_at"], r["deadline_at"], r["arrested_at"])
        for r in rows
        if ctx.principal.covers(r["area"])
    ]
    return [
        K3Group(
            source=row.source,
            borough=row.borough,
            ppo=row.ppo,
            **row.distribution.__dict__,
            still_open=row.still_open,
        )
        for row in k3_rows(outcomes)
    ]

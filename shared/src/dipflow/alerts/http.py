"""The alert routes every service mounts: ``GET /v1/alerts`` (the caller's role, in the areas they cover, a
worker's own), acknowledging and resolving one (recorded and audited), and the signed webhook of a role in an
area (``PUT /v1/alert-receivers``). (No postponed annotations here: the routes' dependencies are local aliases
FastAPI must resolve when each route is defined.)"""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, HttpUrl

from dipflow.alerts import store
from dipflow.alerts.model import Alert, AlertState
from dipflow.auth.principal import Role, areas_of_force
from dipflow.errors import Forbidden
from dipflow.http.access import AuthContext, requires
from dipflow.people import AREA_CODE_PATTERN

OPEN_STATES = (AlertState.open, AlertState.acknowledged, AlertState.escalated)


class AlertView(BaseModel):
    alert_id: str
    seq: int = Field(description="Position in the feed: pass the last one seen as ``after``")
    kind: str
    person_id: str | None
    case_id: str | None
    role: str = Field(description="Who must act now (escalation moves it on)")
    area: str
    assignee: str | None = Field(description="The one worker who must act, if it is theirs alone")
    due_at: datetime
    rule_ids: list[str]
    summary: str
    state: AlertState
    raised_at: datetime
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class AlertPage(BaseModel):
    items: list[AlertView]
    after: int = Field(description="The cursor for the next page (the last item's seq, or the one given)")
    counts: dict[str, int] = Field(
        description="Alerts not yet resolved, by state, for the same role and areas"
    )


class Resolution(BaseModel):
    resolution: str = Field(min_length=3, max_length=500, description="What was done")


class ReceiverIn(BaseModel):
    role: Role
    area: str = Field(pattern=AREA_CODE_PATTERN)
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200, description="The HMAC-SHA256 key the receiver checks")


def view(a: Alert) -> AlertView:
    return AlertView(**{**vars(a), "rule_ids": list(a.rule_ids)})


def alerts_router(roles: Sequence[Role], *, receiver_setters: Sequence[Role] = ()) -> APIRouter:
    """The routes for the ``roles`` this service raises alerts to (admins read them all)."""
    router = APIRouter(prefix="/v1", tags=["alerts"])
    Reader = Annotated[AuthContext, Depends(requires(*roles, Role.admin))]
    Setter = Annotated[AuthContext, Depends(requires(*receiver_setters, Role.admin))]

    def scope(ctx: AuthContext, area: str | None) -> tuple[list[str], list[str] | None, str | None]:
        p = ctx.principal
        wanted = [str(r) for r in roles] if p.role is Role.admin else [str(p.role)]
        if area is not None:
            ctx.require_area(area)
            areas: list[str] | None = [area]
        else:
            areas = None if p.national else areas_of_force(p.area)
        return wanted, areas, p.worker_id if p.role is Role.referral_worker else None

    def may_act(ctx: AuthContext, alert: Alert) -> None:
        p = ctx.principal
        if p.role is not Role.admin and str(p.role) != alert.role:
            raise Forbidden(f"this alert is for {alert.role}", kind="wrong-role")
        ctx.require_area(alert.area)
        if alert.assignee is not None and p.role is Role.referral_worker and p.worker_id != alert.assignee:
            raise Forbidden("this alert is another worker's", kind="not-assigned")

    @router.get("/alerts", response_model=AlertPage, summary="Alerts for the caller's role and areas")
    async def alert_feed(
        ctx: Reader,
        area: str | None = Query(None, pattern=AREA_CODE_PATTERN),
        state: Annotated[list[AlertState] | None, Query()] = None,
        after: int = Query(
            0, ge=0, le=2**63 - 1, description="Only alerts after this seq (the previous page's ``after``)"
        ),
        limit: int = Query(100, ge=1, le=500),
    ) -> AlertPage:
        wanted, areas, assignee = scope(ctx, area)
        states = [str(s) for s in (state or OPEN_STATES)]
        async with ctx.reading() as uow:
            found = await store.feed(
                uow, roles=wanted, areas=areas, assignee=assignee, states=states, after=after, limit=limit
            )
            counts = await store.counts(uow, roles=wanted, areas=areas, assignee=assignee)
        return AlertPage(
            items=[view(a) for a in found], after=found[-1].seq if found else after, counts=counts
        )

    @router.post(
        "/alerts/{alert_id}/acknowledge", response_model=AlertView, summary="I have seen it and am acting"
    )
    async def acknowledge(alert_id: str, ctx: Reader) -> AlertView:
        async with ctx.unit_of_work() as uow:
            alert = await store.get(uow, alert_id)
            may_act(ctx, alert)
            return view(await store.acknowledge(uow, alert))

    @router.post(
        "/alerts/{alert_id}/resolve", response_model=AlertView, summary="Resolve it, saying what was done"
    )
    async def resolve(alert_id: str, body: Resolution, ctx: Reader) -> AlertView:
        async with ctx.unit_of_work() as uow:
            alert = await store.get(uow, alert_id)
            may_act(ctx, alert)
            await store.resolve(uow, alert.kind, alert.subject, resolution=body.resolution)
            return view(await store.get(uow, alert_id))

    @router.put(
        "/alert-receivers", status_code=204, summary="The signed webhook of a role's alerts in an area"
    )
    async def set_receiver(body: ReceiverIn, ctx: Setter) -> None:
        ctx.require_area(body.area)
        async with ctx.unit_of_work() as uow:
            await store.set_receiver(uow, str(body.role), body.area, str(body.url), body.secret)

    return router

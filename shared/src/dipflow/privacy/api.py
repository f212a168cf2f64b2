"""Admin endpoints for personal data: the erasure requests (in the service that takes them), this service's
own erasures, and the retention job."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from dipflow.auth.principal import Role
from dipflow.http.access import AuthContext, requires
from dipflow.http.params import PersonId
from dipflow.http.problems import Problem
from dipflow.privacy.erasure import PersonEraser
from dipflow.privacy.events import ErasureRequested
from dipflow.privacy.pseudonyms import Pseudonyms
from dipflow.privacy.retention import Retainer, RetentionPolicy, run_retention
from dipflow.topics import PRIVACY_REQUESTS


@dataclass(frozen=True)
class PrivacyPlan:
    """What a service does with personal data: how it erases a person from its own tables, how it applies the
    retention periods, and whether it is the one that takes erasure requests."""

    eraser: PersonEraser
    retainer: Retainer
    takes_requests: bool = False


router = APIRouter(prefix="/v1/privacy", tags=["personal data"])
requests_router = APIRouter(prefix="/v1/privacy", tags=["personal data"])


class ErasureRequestIn(BaseModel):
    model_config = {"extra": "forbid"}
    person_id: PersonId = Field(description="PNC number or local id of the person to erase")
    reason: str = Field(
        min_length=1, max_length=500, description="The grounds, e.g. the data subject's request"
    )


class ErasureRequestOut(BaseModel):
    request_id: uuid.UUID
    requested_at: datetime
    requested_by: str
    reason: str
    confirmed_by: dict[str, dict[str, Any]] = Field(description="Each service that has erased the person")
    complete: bool = Field(description="Every one of the four services has confirmed")


class ErasureOut(BaseModel):
    request_id: uuid.UUID
    requested_at: datetime
    erased_at: datetime
    rows: dict[str, int]


class RetentionRunOut(BaseModel):
    ran: bool = Field(description="False when another instance was running the job")
    negative_days: int
    closed_days: int
    rows: dict[str, int]


@requests_router.post(
    "/erasure-requests",
    status_code=202,
    summary="Erase a person's personal data in every service (admins only)",
    response_model=ErasureRequestOut,
)
async def request_erasure(body: ErasureRequestIn, ctx: AuthContext = Depends(requires(Role.admin))) -> Any:
    request_id, now = uuid.uuid4(), datetime.now(UTC)
    async with ctx.unit_of_work() as uow:
        alias = (await Pseudonyms.load(uow.conn)).of(body.person_id)
        await uow.conn.execute(
            "INSERT INTO erasure_requests (request_id, pseudonym, requested_by, reason, requested_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            request_id,
            alias,
            ctx.principal.subject,
            body.reason,
            now,
        )
        requested = ErasureRequested(
            request_id=request_id, requested_by=ctx.principal.subject, reason=body.reason
        )
        await uow.emit(body.person_id, [(requested, now)], topic=PRIVACY_REQUESTS.name)
        await uow.audit("privacy.erasure_requested", body.person_id, detail={"request_id": str(request_id)})
    return ErasureRequestOut(
        request_id=request_id,
        requested_at=now,
        requested_by=ctx.principal.subject,
        reason=body.reason,
        confirmed_by={},
        complete=False,
    )


@requests_router.get(
    "/erasure-requests/{request_id}",
    summary="An erasure request and which services have confirmed it (admins only)",
    response_model=ErasureRequestOut,
)
async def erasure_request(
    request_id: uuid.UUID, request: Request, ctx: AuthContext = Depends(requires(Role.admin))
) -> Any:
    pool = ctx.pool
    row = await pool.fetchrow("SELECT * FROM erasure_requests WHERE request_id = $1", request_id)
    if row is None:
        raise Problem(404, "no such erasure request", kind="not-found")
    confirmations = await pool.fetch(
        "SELECT service, erased_at, rows FROM erasure_confirmations WHERE request_id = $1", request_id
    )
    confirmed = {
        c["service"]: {"erased_at": c["erased_at"].isoformat(), "rows": c["rows"]} for c in confirmations
    }
    return ErasureRequestOut(
        request_id=request_id,
        requested_at=row["requested_at"],
        requested_by=row["requested_by"],
        reason=row["reason"],
        confirmed_by=confirmed,
        complete=set(request.app.state.resources.settings.erasure_confirmed_by) <= set(confirmed),
    )


@router.get(
    "/erasures/{request_id}",
    summary="This service's erasure for a request: when, and the rows changed (admins only)",
    response_model=ErasureOut,
)
async def erasure(request_id: uuid.UUID, ctx: AuthContext = Depends(requires(Role.admin))) -> Any:
    row = await ctx.pool.fetchrow("SELECT * FROM erasures WHERE request_id = $1", request_id)
    if row is None:
        raise Problem(404, "this service has not (yet) erased anyone for that request", kind="not-found")
    return ErasureOut(
        request_id=request_id, requested_at=row["requested_at"], erased_at=row["erased_at"], rows=row["rows"]
    )


@router.post(
    "/retention/run",
    summary="Run the retention job now with the configured periods (admins only)",
    response_model=RetentionRunOut,
)
async def run_retention_now(request: Request, ctx: AuthContext = Depends(requires(Role.admin))) -> Any:
    plan: PrivacyPlan = request.app.state.privacy_plan
    policy: RetentionPolicy = request.app.state.retention_policy
    service: str = request.app.state.resources.settings.service_name
    rows = await run_retention(ctx.pool, service, plan.retainer, policy)
    await ctx.audit("privacy.retention_run", detail={"rows": rows or {}})
    return RetentionRunOut(
        ran=rows is not None,
        negative_days=policy.negative_days,
        closed_days=policy.closed_days,
        rows=rows or {},
    )

"""The PPO register API (RULES.md P1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from dipflow.auth import AuthContext, Role, requires
from dipflow.http.problems import Problem
from dipflow_ppo_register import handlers
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand

router = APIRouter(prefix="/v1/register", tags=["register"])
MAINTAINERS = (Role.ppo_coordinator, Role.admin)
READERS = (Role.ppo_coordinator, Role.admin, Role.custody_officer, Role.inspector, Role.probation_liaison)
PERSON_ID = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"


class AddToRegister(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"person_id": "08/123456X", "borough": "camden", "strand": "catch_and_convict", "start_date": "2008-01-07",
         "reason": "selected at the January 2008 partnership panel"}]}}  # fmt: skip

    person_id: str = Field(pattern=PERSON_ID)
    borough: str = Field(min_length=2, max_length=60, pattern=r"^[a-z-]+$")
    strand: Strand
    start_date: date
    reason: str = Field(min_length=3, max_length=500)


class RemoveFromRegister(BaseModel):
    end_date: date
    reason: str = Field(min_length=3, max_length=500)


class PeriodView(BaseModel):
    person_id: str
    borough: str
    strand: Strand
    start_date: date
    end_date: date | None
    reason: str
    added_by: str
    end_reason: str | None
    ended_by: str | None


def _view(p: Period) -> PeriodView:
    return PeriodView(**p.__dict__)


def _broken(exc: RegisterRuleBroken) -> Problem:
    return Problem(409, exc.reason, kind="register-rule", rule_id=exc.rule_id)


@router.post(
    "", status_code=201, response_model=PeriodView, summary="Put a person on the register (or move them)"
)
async def add(body: AddToRegister, ctx: AuthContext = Depends(requires(*MAINTAINERS))) -> PeriodView:
    ctx.require_area(body.borough)
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            period = await handlers.add(
                conn, ctx.audit, person_id=body.person_id, borough=body.borough, strand=body.strand,
                start=body.start_date, reason=body.reason,
            )  # fmt: skip
    except RegisterRuleBroken as exc:
        raise _broken(exc) from exc
    return _view(period)


@router.post("/{person_id}/end", response_model=PeriodView, summary="Take a person off the register")
async def remove(
    person_id: str, body: RemoveFromRegister, ctx: AuthContext = Depends(requires(*MAINTAINERS))
) -> PeriodView:
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            borough = await handlers.borough_of(conn, person_id)
            if borough is None:
                raise Problem(404, "the person is not on the register")
            ctx.require_area(borough)
            period = await handlers.remove(
                conn, ctx.audit, person_id=person_id, end=body.end_date, reason=body.reason
            )
    except RegisterRuleBroken as exc:
        raise _broken(exc) from exc
    return _view(period)


@router.get("", response_model=list[PeriodView], summary="Who was on the register on a date (default today)")
async def on_date(
    as_of: date | None = None,
    borough: str | None = Query(None, max_length=60),
    ctx: AuthContext = Depends(requires(*READERS, area="borough")),
) -> list[PeriodView]:
    if borough is None and ctx.principal.area != "*":
        raise Problem(
            422,
            "name a borough you cover",
            errors=[{"field": "query.borough", "reason": "required for your area"}],
        )
    async with ctx.audit.pool.acquire() as conn:
        periods = await handlers.as_of(conn, as_of or date.today(), borough)
    await ctx.audit.record(
        "register.read", detail={"borough": borough, "as_of": str(as_of), "returned": len(periods)}
    )
    return [_view(p) for p in periods]


@router.get(
    "/{person_id}/history", response_model=list[PeriodView], summary="A person's periods on the register"
)
async def person_history(person_id: str, ctx: AuthContext = Depends(requires(*READERS))) -> list[Any]:
    async with ctx.audit.pool.acquire() as conn:
        periods = await handlers.history(conn, person_id)
    if periods and not any(ctx.principal.covers(p.borough) for p in periods):
        raise Problem(403, "this person's register entries are in areas you do not cover", kind="wrong-area")
    await ctx.audit.record("register.history", person_id)
    return [_view(p) for p in periods]

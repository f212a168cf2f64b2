"""/v1/register: the PPO register (P1), who is on it on a date, a person's history."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.auth import Role
from dipflow.http.params import Day, PersonId
from dipflow.people import AREA_CODE_PATTERN
from dipflow.working_days import london_today
from dipflow_ppo_register.domain.register import Period, Strand
from dipflow_ppo_register.entrypoints.http.deps import (
    BoroughReader,
    Maintainer,
    PersonMaintainer,
    Reader,
    borough_for,
)
from dipflow_ppo_register.service_layer import register

router = APIRouter(prefix="/v1/register", tags=["register"])


class AddToRegister(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "person_id": "08/123456X",
                    "borough": "camden",
                    "strand": "catch_and_convict",
                    "start_date": "2008-01-07",
                    "reason": "selected at the January 2008 partnership panel",
                }
            ]
        }
    }

    person_id: PersonId
    borough: str = Field(min_length=2, max_length=60, pattern=AREA_CODE_PATTERN)
    strand: Strand
    start_date: Day
    reason: str = Field(min_length=3, max_length=500)


class RemoveFromRegister(BaseModel):
    end_date: Day
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


def period_view(p: Period) -> PeriodView:
    return PeriodView(**p.__dict__)


@router.post(
    "", status_code=201, response_model=PeriodView, summary="Put a person on the register (or move them)"
)
async def add(body: AddToRegister, ctx: Maintainer) -> PeriodView:
    ctx.require_area(body.borough)
    command = register.AddToRegister(body.person_id, body.borough, body.strand, body.start_date, body.reason)
    async with ctx.unit_of_work() as uow:
        return period_view(await register.add(uow, command, ctx.principal.covers))


@router.post("/{person_id:path}/end", response_model=PeriodView, summary="Take a person off the register")
async def remove(person_id: str, body: RemoveFromRegister, ctx: PersonMaintainer) -> PeriodView:
    command = register.TakeOffRegister(person_id, body.end_date, body.reason)
    async with ctx.unit_of_work() as uow:
        return period_view(await register.remove(uow, command, ctx.principal.covers))


@router.get("", response_model=list[PeriodView], summary="Who was on the register on a date (default today)")
async def on_date(
    ctx: BoroughReader, as_of: Day | None = None, borough: str | None = Query(None, max_length=60)
) -> list[PeriodView]:
    wanted = borough_for(ctx, borough)
    async with ctx.unit_of_work() as uow:
        periods = await register.on_date(uow, as_of or london_today(), wanted)
    return [period_view(p) for p in periods]


@router.get(
    "/{person_id:path}/history", response_model=list[PeriodView], summary="A person's periods on the register"
)
async def person_history(person_id: str, ctx: Reader) -> list[PeriodView]:
    """Coordinators and probation liaison of a borough the person was registered in; custody officers and
    inspectors of that borough's force (the register is the force's, T4)."""
    custody = ctx.principal.role in (Role.custody_officer, Role.inspector)
    sees = ctx.principal.in_force_of if custody else ctx.principal.covers
    async with ctx.unit_of_work() as uow:
        periods = await register.history(uow, person_id, sees)
    return [period_view(p) for p in periods]

"""/v1/workers: arrest referral workers, the suites they cover, their capacity and leave (A9)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool, StrictInt

from dipflow.http.params import Day
from dipflow.http.problems import Problem
from dipflow.people import AREA_CODE_PATTERN
from dipflow_referral.domain.assignment import Leave, StaffMember
from dipflow_referral.entrypoints.http.deps import AreaManagers, Managers, Policy, WorkerManager
from dipflow_referral.service_layer import workers

router = APIRouter(prefix="/v1/workers", tags=["workers"])


class WorkerIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "worker_id": "W-LAM-01",
                    "name": "A Worker",
                    "area": "lambeth",
                    "suites": ["MET-BRIXTON"],
                    "daily_capacity": 4,
                    "working_weekdays": [0, 1, 2, 3, 4],
                }
            ]
        }
    }

    worker_id: str = Field(pattern=r"^[A-Za-z0-9-]{2,40}$")
    name: str = Field(min_length=1, max_length=200)
    area: str = Field(pattern=AREA_CODE_PATTERN)
    suites: list[str] = Field(min_length=1, max_length=20)
    daily_capacity: StrictInt = Field(ge=1, le=50)
    working_weekdays: list[Annotated[StrictInt, Field(ge=0, le=6)]] = Field(
        default=[0, 1, 2, 3, 4], min_length=1, max_length=7, description="0 is Monday, 6 is Sunday"
    )
    active: StrictBool = True

    def member(self) -> StaffMember:
        return StaffMember(
            worker_id=self.worker_id,
            name=self.name,
            area=self.area,
            suites=tuple(self.suites),
            daily_capacity=self.daily_capacity,
            working_weekdays=tuple(self.working_weekdays),
            active=self.active,
        )


class LeaveView(BaseModel):
    first_day: date
    last_day: date
    reason: str | None


class WorkerView(WorkerIn):
    leave: list[LeaveView] = []


class LeaveIn(BaseModel):
    first_day: Day
    last_day: Day
    reason: str | None = Field(None, max_length=200)


class LeaveOutcome(BaseModel):
    moved: int = Field(description="Waiting appointments in the leave given to another worker")
    queued: int = Field(description="Those nobody could take: in the unassigned queue")


def worker_view(w: StaffMember) -> WorkerView:
    return WorkerView(
        worker_id=w.worker_id,
        name=w.name,
        area=w.area,
        suites=list(w.suites),
        daily_capacity=w.daily_capacity,
        working_weekdays=list(w.working_weekdays),
        active=w.active,
        leave=[LeaveView(first_day=x.first_day, last_day=x.last_day, reason=x.reason) for x in w.leave],
    )


@router.post(
    "", response_model=WorkerView, status_code=201, summary="Add or update an arrest referral worker"
)
async def put_worker(body: WorkerIn, ctx: Managers, policy: Policy) -> WorkerView:
    ctx.require_area(body.area)
    async with ctx.unit_of_work() as uow:
        await workers.put_worker(uow, body.member(), ctx.require_area, policy)
    return WorkerView(**body.model_dump())


@router.get("", response_model=list[WorkerView], summary="Workers of an area")
async def list_workers(ctx: AreaManagers, area: str | None = Query(None, max_length=60)) -> list[WorkerView]:
    async with ctx.unit_of_work() as uow:
        found = await workers.staff(uow, area, ctx.principal.covers)
    return [worker_view(w) for w in found]


@router.post(
    "/{worker_id}/leave",
    response_model=LeaveOutcome,
    summary="Record leave; waiting appointments in it move to other workers",
)
async def add_leave(worker_id: str, body: LeaveIn, ctx: WorkerManager, policy: Policy) -> LeaveOutcome:
    if body.last_day < body.first_day:
        raise Problem(
            422,
            "leave ends before it starts",
            errors=[{"field": "body.last_day", "reason": "before first_day"}],
        )
    leave = Leave(body.first_day, body.last_day, body.reason)
    async with ctx.unit_of_work() as uow:
        moved = await workers.add_leave(uow, worker_id, leave, ctx.require_area, policy)
    return LeaveOutcome(moved=moved.moved, queued=moved.queued)

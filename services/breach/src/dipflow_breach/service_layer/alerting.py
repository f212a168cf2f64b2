"""Breach's alerts (docs/rules.md D4, D5, D6): every arrest request is pushed to police enforcement of its area
(premium ones say so) and escalated when its target passes; a breach case's enforcement or first-hearing due date
that passes with nothing recorded is an alert to probation liaison. The arrest, a cancellation or the step being
recorded resolves them."""

from __future__ import annotations

from datetime import date, datetime, time

from dipflow.alerts import store as alerts
from dipflow.alerts.model import RaiseAlert
from dipflow.auth.principal import Role
from dipflow.uow import UnitOfWork
from dipflow.working_days import LONDON
from dipflow_breach.domain.arrests import ArrestRequest
from dipflow_breach.domain.cases import BreachCase, Step

ARREST_REQUESTED = "arrest-requested"
STEP_OVERDUE = "breach-step-overdue"


async def arrest_requested(uow: UnitOfWork, request: ArrestRequest) -> None:
    kind = "Premium (fast-track) arrest request" if request.premium else "Arrest request"
    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=ARREST_REQUESTED,
            subject=request.request_id,
            role=str(Role.police_enforcement),
            area=request.area,
            due_at=request.deadline_at,
            summary=f"{kind}: {request.basis}. Arrest by {request.deadline_at:%d %b %Y %H:%M}.",
            rule_ids=tuple(request.rule_ids),
            person_id=request.person_id,
            case_id=request.request_id,
        ),
    )


async def arrest_overdue(uow: UnitOfWork, request: ArrestRequest) -> None:
    await alerts.escalate(uow, ARREST_REQUESTED, request.request_id, to_role=str(Role.police_enforcement))


async def arrest_answered(uow: UnitOfWork, request: ArrestRequest, how: str) -> None:
    await alerts.resolve(uow, ARREST_REQUESTED, request.request_id, resolution=how)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), LONDON)


async def step_overdue(uow: UnitOfWork, case: BreachCase, step: Step, due: date) -> None:
    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=STEP_OVERDUE,
            subject=f"{case.case_id}:{step}",
            role=str(Role.probation_liaison),
            area=case.area,
            due_at=_end_of(due),
            summary=f"The breach case's {step} was due by {due:%d %b %Y} and nothing is recorded: record it.",
            rule_ids=("D4",),
            person_id=case.person_id,
            case_id=case.case_id,
        ),
    )


async def step_recorded(uow: UnitOfWork, case: BreachCase, step: Step) -> None:
    await alerts.resolve(uow, STEP_OVERDUE, f"{case.case_id}:{step}", resolution=f"{step} recorded")

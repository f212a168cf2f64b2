"""Breach cases: opened on a breach with their D4 timers, the liaison notice and the arrest request (D3-D5);
enforcement action and the hearing recorded on them; a due date that passes escalated (D4). Each is one unit of
work, authorised on the case's area before anything is written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from dipflow.errors import NotFound
from dipflow.events import EventPayload
from dipflow.events.timers import Deadline
from dipflow.uow import UnitOfWork
from dipflow_breach.adapters import repository, views
from dipflow_breach.contracts.events import DeadlinePassed, ProceedingsStarted
from dipflow_breach.domain import notices
from dipflow_breach.domain.arrests import ARREST_TARGET, ArrestPolicy, RequestArrest, Source
from dipflow_breach.domain.cases import ENFORCEMENT_DUE, HEARING_DUE, STEP_DUE, BreachCase, Step
from dipflow_breach.domain.drr import Order, Outcome
from dipflow_breach.service_layer import alerting, arrests, notifications

AreaCheck = Callable[[str], None]
"""Refuses (403) an area the caller does not cover; a system on a topic is trusted."""

EnforcementAction = Literal["summons", "warrant", "other"]


@dataclass(frozen=True)
class RecordEnforcement:
    case_id: str
    action: EnforcementAction
    at: datetime


@dataclass(frozen=True)
class RecordHearing:
    case_id: str
    on: date


async def open_case(
    uow: UnitOfWork, order: Order, failure_on: date, outcome: Outcome, policy: ArrestPolicy, now: datetime
) -> list[EventPayload]:
    """D3: proceedings for the breaching failure: the case with its D4 timers, the liaison notice, and the
    arrest request, premium on the D5 fast track. Its events, for the caller to emit."""
    case = BreachCase.open(order, failure_on, outcome, ppo=await repository.is_ppo(uow, order.person_id))
    await repository.add_case(uow, case)
    for kind, due_at in case.due_times().items():
        await uow.schedule(kind, case.case_id, due_at)
    await notifications.notify(uow, notices.breach_opened(case))
    started = ProceedingsStarted(
        case_id=case.case_id,
        order_id=case.order_id,
        area=case.area,
        failure_on=case.failure_on,
        enforcement_due=case.enforcement_due,
        hearing_due=case.hearing_due,
        ppo=case.ppo,
        high_risk=case.high_risk,
        rule_ids=case.rule_ids,
        reason=case.reason,
    )
    wanted = RequestArrest(
        person_id=case.person_id,
        source=Source.drr_breach,
        source_ref=case.case_id,
        area=case.area,
        requested_at=now,
        high_risk=case.high_risk,
        enforcement_due=case.enforcement_due,
    )
    return [started, *await arrests.open_request(uow, wanted, policy)]


async def _load(uow: UnitOfWork, case_id: str, check_area: AreaCheck) -> BreachCase:
    case = await repository.load_case(uow, case_id)
    if case is None:
        raise NotFound("breach case", case_id)
    check_area(case.area)
    return case


async def record_enforcement(
    uow: UnitOfWork, command: RecordEnforcement, check_area: AreaCheck
) -> BreachCase:
    """D4: enforcement action was taken; its due date no longer escalates."""
    case = await _load(uow, command.case_id, check_area)
    case.record_enforcement(command.action, command.at)
    await repository.save_case(uow, case)
    await uow.cancel(ENFORCEMENT_DUE, case.case_id)
    await alerting.step_recorded(uow, case, Step.enforcement)
    await uow.audit("breach.enforcement", case.person_id, {"case_id": case.case_id})
    return case


async def record_hearing(uow: UnitOfWork, command: RecordHearing, check_area: AreaCheck) -> BreachCase:
    """D4: the first breach hearing was held; the case is before the court and closes."""
    case = await _load(uow, command.case_id, check_area)
    case.record_hearing(command.on, datetime.now(UTC))
    await repository.save_case(uow, case)
    await uow.cancel(HEARING_DUE, case.case_id)
    await alerting.step_recorded(uow, case, Step.hearing)
    await uow.audit("breach.hearing", case.person_id, {"case_id": case.case_id})
    return case


async def read_ahead_deadlines(uow: UnitOfWork, deadlines: Sequence[Deadline]) -> None:
    """A timer pass reads and locks, without waiting, the breach cases (D4) and arrest requests (D5) its
    deadlines name, at once, before its handlers run."""
    await repository.read_ahead_for_timers(
        uow,
        [d.subject for d in deadlines if d.kind in STEP_DUE],
        [d.subject for d in deadlines if d.kind == ARREST_TARGET],
    )


async def on_case_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """D4: a due date passed with nothing recorded: escalated to probation liaison."""
    case = await repository.load_case_for_timer(uow, deadline.subject)
    if case is None:
        return
    step = STEP_DUE[deadline.kind]
    due = case.escalate(step)
    if due is None:
        return
    await repository.save_case(uow, case)
    await notifications.notify(uow, notices.step_overdue(case, step, due))
    await alerting.step_overdue(uow, case, step, due)
    passed = DeadlinePassed(case_id=case.case_id, deadline=str(step), due=due)
    await uow.emit(case.person_id, [(passed, datetime.now(UTC))])


async def area_of(uow: UnitOfWork, case_id: str) -> str:
    """The case's area (who may act on it)."""
    area = await repository.area_of_case(uow, case_id)
    if area is None:
        raise NotFound("breach case", case_id)
    return area


async def in_area(uow: UnitOfWork, area: str) -> list[BreachCase]:
    found = await views.cases_in(uow, area)
    await uow.audit("breach_cases.list", detail={"area": area, "returned": len(found)})
    return found

"""DRR orders: made, flagged high-risk, ended, and judged on each compliance record (D1-D4): the outcome, the
warning or the breach case, their notices and events, in one unit of work, authorised on the order's area
before anything is written. A record sent again (same record id) gets its first outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dipflow.errors import NotFound
from dipflow.events import EventPayload
from dipflow.uow import UnitOfWork
from dipflow_breach.adapters import repository, views
from dipflow_breach.contracts import inbound
from dipflow_breach.contracts.events import ComplianceDecided, WarningIssued
from dipflow_breach.domain import notices
from dipflow_breach.domain.arrests import ArrestPolicy
from dipflow_breach.domain.cases import BreachCase
from dipflow_breach.domain.drr import ComplianceEntry, ComplianceKind, Decision, FormalWarning, Order, Outcome
from dipflow_breach.service_layer import cases, notifications
from dipflow_breach.service_layer.cases import AreaCheck


@dataclass(frozen=True)
class RecordCompliance:
    order_id: str
    record_id: str
    """The sender's id: a record sent again is kept once."""
    kind: ComplianceKind
    on: date
    reason: str | None = None
    result: str | None = None
    straight_to_breach: bool = False
    """D2: the responsible officer goes straight to breach instead of a warning."""


@dataclass(frozen=True)
class EndOrder:
    order_id: str
    ended_on: date
    reason: str


@dataclass(frozen=True)
class FlagHighRisk:
    order_id: str
    high_risk: bool


@dataclass(frozen=True)
class OrderFile:
    """An order with what was recorded and decided on it."""

    order: Order
    ppo: bool
    compliance: list[ComplianceEntry]
    warnings: list[FormalWarning]
    breach_cases: list[BreachCase]


def order_from(person_id: str, made: inbound.OrderMade) -> Order:
    """The order an ``OrderMade`` (from the topic or the API) makes for ``person_id``."""
    return Order(
        order_id=made.order_id,
        person_id=person_id,
        area=made.area,
        court=made.court,
        start_date=made.start_date,
        treatment_months=made.treatment_months,
        responsible_officer=made.responsible_officer,
        review_schedule=made.review_schedule,
        high_risk=made.high_risk,
    )


def compliance_from(recorded: inbound.ComplianceRecorded) -> RecordCompliance:
    return RecordCompliance(
        order_id=recorded.order_id,
        record_id=recorded.record_id,
        kind=recorded.kind,
        on=recorded.on,
        reason=recorded.reason,
        result=recorded.result,
        straight_to_breach=recorded.straight_to_breach,
    )


async def make_order(uow: UnitOfWork, order: Order) -> bool:
    """Record the order; the same order sent again changes nothing. Whether it was new."""
    created = await repository.add_order(uow, order)
    await uow.audit("order.make", order.person_id, {"order_id": order.order_id})
    return created


async def _load(uow: UnitOfWork, order_id: str, check_area: AreaCheck, *, lock: bool = True) -> Order:
    order = await repository.load_order(uow, order_id, lock=lock)
    if order is None:
        raise NotFound("order", order_id)
    check_area(order.area)
    return order


async def end_order(uow: UnitOfWork, command: EndOrder, check_area: AreaCheck) -> None:
    """The order ended (once: a repeat changes nothing)."""
    order = await _load(uow, command.order_id, check_area)
    if order.end(command.ended_on, command.reason):
        await repository.save_order(uow, order)
    await uow.audit("order.end", order.person_id, {"order_id": order.order_id})


async def flag_high_risk(uow: UnitOfWork, command: FlagHighRisk, check_area: AreaCheck) -> None:
    """D5: a breach by an offender flagged high-risk is fast-tracked."""
    order = await _load(uow, command.order_id, check_area)
    order.high_risk = command.high_risk
    await repository.save_order(uow, order)
    await uow.audit("order.high_risk", order.person_id, {"high_risk": command.high_risk})


async def read_ahead(
    uow: UnitOfWork, order_ids: Sequence[str], record_ids: Sequence[str], people: Sequence[str]
) -> None:
    """A batch of probation's records reads (and locks) its orders, and what D1-D4 decide from, once; and
    whether each of the records' ``people`` is a PPO, which a breach asks (D5)."""
    if order_ids:
        await repository.read_ahead_compliance(uow, order_ids, record_ids)
    await repository.read_ahead_ppo(uow, people)


async def record_compliance(
    uow: UnitOfWork, command: RecordCompliance, policy: ArrestPolicy, check_area: AreaCheck
) -> Outcome:
    """D1-D4 for one compliance record: its outcome, the warning (D2) or the breach case (D3-D5), their
    notices and events."""
    order = await _load(uow, command.order_id, check_area)
    outcome = await repository.outcome_of_record(uow, command.record_id)
    if outcome is None:
        outcome = await _decide(uow, order, command, policy)
    await uow.audit(
        "order.compliance", order.person_id, {"order_id": order.order_id, "decision": str(outcome.decision)}
    )
    return outcome


async def _decide(uow: UnitOfWork, order: Order, command: RecordCompliance, policy: ArrestPolicy) -> Outcome:
    outcome = order.decide_compliance(
        command.kind,
        command.on,
        warnings=await repository.warning_days(uow, order.order_id),
        breach_open=await repository.has_open_case(uow, order.order_id),
        straight_to_breach=command.straight_to_breach,
        detail=command.reason,
    )
    entry = ComplianceEntry(
        record_id=command.record_id,
        kind=str(command.kind),
        on_date=command.on,
        reason=command.reason,
        result=command.result,
        decision=str(outcome.decision),
        rule_ids=list(outcome.rule_ids),
        explanation=outcome.reason,
    )
    await repository.add_compliance(uow, order.order_id, entry)
    now = datetime.now(UTC)
    events: list[EventPayload] = [
        ComplianceDecided(
            order_id=order.order_id,
            kind=str(command.kind),
            on=command.on,
            decision=str(outcome.decision),
            rule_ids=list(outcome.rule_ids),
            reason=outcome.reason,
        )
    ]
    if outcome.decision is Decision.warning:
        events.append(
            await _warn(uow, order, FormalWarning(command.on, outcome.reason, outcome.warning_text), outcome)
        )
    if outcome.decision is Decision.breach:
        events += await cases.open_case(uow, order, command.on, outcome, policy, now)
    await uow.emit(order.person_id, [(e, now) for e in events])
    return outcome


async def _warn(uow: UnitOfWork, order: Order, warning: FormalWarning, outcome: Outcome) -> WarningIssued:
    """D2: the warning as given, kept, and told to probation liaison."""
    await repository.add_warning(uow, order.order_id, warning)
    rule_ids = list(outcome.rule_ids)
    await notifications.notify(
        uow, notices.warning_issued(order.order_id, order.area, order.person_id, warning, rule_ids)
    )
    return WarningIssued(
        order_id=order.order_id,
        issued_on=warning.issued_on,
        reason=warning.reason,
        rule_ids=rule_ids,
        text=warning.text,
    )


async def read(uow: UnitOfWork, order_id: str, check_area: AreaCheck) -> OrderFile:
    """The order with its compliance records, warnings, breach cases and whether the person is a PPO now; the
    read is audited."""
    order = await _load(uow, order_id, check_area, lock=False)
    found = OrderFile(
        order=order,
        ppo=await repository.is_ppo(uow, order.person_id),
        compliance=await views.compliance_on(uow, order_id),
        warnings=await views.warnings_on(uow, order_id),
        breach_cases=await views.cases_on(uow, order_id),
    )
    await uow.audit("order.read", order.person_id, {"order_id": order_id})
    return found


async def in_area(uow: UnitOfWork, area: str) -> list[Order]:
    """The area's orders (the caller may act for the area); the read is audited."""
    found = await views.orders_in(uow, area)
    await uow.audit("orders.list", detail={"area": area, "returned": len(found)})
    return found


async def area_of(uow: UnitOfWork, order_id: str) -> str:
    """The order's area (who may act on it)."""
    area = await repository.area_of_order(uow, order_id)
    if area is None:
        raise NotFound("order", order_id)
    return area

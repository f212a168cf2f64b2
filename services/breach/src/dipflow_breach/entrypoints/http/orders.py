"""/v1/orders: DRR orders from probation liaison, their compliance records (D1-D4), end and high-risk flag."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool

from dipflow.http.params import Day, PersonId
from dipflow_breach.contracts.inbound import OrderMade
from dipflow_breach.domain.drr import ComplianceKind, Order, Outcome
from dipflow_breach.entrypoints.http.deps import AreaLiaison, Liaison, OrderLiaison, Policy
from dipflow_breach.entrypoints.http.schemas import BreachCaseView, case_view
from dipflow_breach.service_layer import orders

router = APIRouter(prefix="/v1/orders", tags=["DRR orders"])


class OrderIn(OrderMade):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "person_id": "08/123456X",
                    "order_id": "DRR-2008-0001",
                    "area": "lambeth",
                    "court": "Camberwell Green",
                    "start_date": "2008-01-14",
                    "treatment_months": 12,
                    "responsible_officer": "PO Smith",
                }
            ]
        }
    }

    person_id: PersonId
    high_risk: StrictBool = False


class OrderCreated(BaseModel):
    order_id: str
    created: bool = Field(description="False when the order was recorded already (nothing changed)")


class OrderView(BaseModel):
    order_id: str
    person_id: str
    area: str
    court: str
    start_date: date
    treatment_months: int
    review_schedule: str | None
    responsible_officer: str
    high_risk: bool
    ended_on: date | None
    end_reason: str | None
    created_at: datetime | None


class ComplianceView(BaseModel):
    record_id: str
    kind: str
    on_date: date
    reason: str | None
    result: str | None
    decision: str
    rule_ids: list[str]
    explanation: str


class WarningView(BaseModel):
    issued_on: date
    reason: str
    text: str | None


class OrderFileView(BaseModel):
    order: OrderView
    ppo: bool
    compliance: list[ComplianceView]
    warnings: list[WarningView]
    breach_cases: list[BreachCaseView]


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


class EndIn(BaseModel):
    ended_on: Day
    reason: str = Field(min_length=2, max_length=200)


class HighRiskIn(BaseModel):
    high_risk: StrictBool


def _order_view(order: Order) -> OrderView:
    return OrderView.model_validate(order, from_attributes=True)


def _outcome_view(outcome: Outcome) -> OutcomeView:
    return OutcomeView(
        decision=str(outcome.decision),
        rule_ids=list(outcome.rule_ids),
        reason=outcome.reason,
        enforcement_due=outcome.enforcement_due,
        hearing_due=outcome.hearing_due,
        warning_text=outcome.warning_text,
    )


@router.post("", status_code=201, response_model=OrderCreated, summary="A court made a DRR order")
async def make_order(body: OrderIn, ctx: Liaison) -> OrderCreated:
    ctx.require_area(body.area)
    async with ctx.unit_of_work() as uow:
        created = await orders.make_order(uow, orders.order_from(body.person_id, body))
    return OrderCreated(order_id=body.order_id, created=created)


@router.get("", response_model=list[OrderView], summary="The DRR orders of an area, running ones first")
async def list_orders(ctx: AreaLiaison, area: str = Query(..., max_length=60)) -> list[OrderView]:
    async with ctx.reading() as uow:
        found = await orders.in_area(uow, area)
    return [_order_view(o) for o in found]


@router.get(
    "/{order_id}",
    response_model=OrderFileView,
    summary="An order with its compliance records, warnings and breach cases",
)
async def get_order(order_id: str, ctx: OrderLiaison) -> OrderFileView:
    async with ctx.unit_of_work() as uow:
        found = await orders.read(uow, order_id, ctx.require_area)
    return OrderFileView(
        order=_order_view(found.order),
        ppo=found.ppo,
        compliance=[ComplianceView.model_validate(c, from_attributes=True) for c in found.compliance],
        warnings=[WarningView.model_validate(w, from_attributes=True) for w in found.warnings],
        breach_cases=[case_view(c) for c in found.breach_cases],
    )


@router.post(
    "/{order_id}/compliance", response_model=OutcomeView, summary="D1-D4: record compliance, get the outcome"
)
async def compliance(order_id: str, body: ComplianceIn, ctx: OrderLiaison, policy: Policy) -> OutcomeView:
    command = orders.RecordCompliance(
        order_id=order_id,
        record_id=body.record_id or str(uuid.uuid4()),
        kind=body.kind,
        on=body.on,
        reason=body.reason,
        result=body.result,
        straight_to_breach=body.straight_to_breach,
    )
    async with ctx.unit_of_work() as uow:
        outcome = await orders.record_compliance(uow, command, policy, ctx.require_area)
    return _outcome_view(outcome)


@router.post("/{order_id}/end", status_code=204, summary="The order ended")
async def end_order(order_id: str, body: EndIn, ctx: OrderLiaison) -> None:
    async with ctx.unit_of_work() as uow:
        await orders.end_order(uow, orders.EndOrder(order_id, body.ended_on, body.reason), ctx.require_area)


@router.post("/{order_id}/high-risk", status_code=204, summary="Flag the offender high-risk (D5 fast track)")
async def high_risk(order_id: str, body: HighRiskIn, ctx: OrderLiaison) -> None:
    async with ctx.unit_of_work() as uow:
        await orders.flag_high_risk(uow, orders.FlagHighRisk(order_id, body.high_risk), ctx.require_area)

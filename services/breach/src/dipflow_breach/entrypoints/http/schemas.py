"""Response models shared by more than one resource."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from dipflow_breach.domain.cases import BreachCase


class BreachCaseView(BaseModel):
    case_id: str
    order_id: str
    person_id: str
    area: str
    failure_on: date
    enforcement_due: date
    hearing_due: date
    ppo: bool
    high_risk: bool
    rule_ids: list[str]
    reason: str
    enforcement: str | None
    enforcement_at: datetime | None
    hearing_on: date | None
    escalations: list[str]
    opened_at: datetime | None
    closed_at: datetime | None


def case_view(case: BreachCase) -> BreachCaseView:
    return BreachCaseView.model_validate(case, from_attributes=True)

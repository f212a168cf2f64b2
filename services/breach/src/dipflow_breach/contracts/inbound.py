"""What probation systems send on probation.events.v1 (the same bodies as the REST API)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from dipflow.events import EventPayload, EventRegistry
from dipflow.people import AREA_CODE_PATTERN
from dipflow.topics import PROBATION_EVENTS
from dipflow_breach.domain.drr import ComplianceKind

AREA = AREA_CODE_PATTERN


class OrderMade(EventPayload):
    """A court made a DRR order."""

    event_type = "probation.order_made"
    topic = PROBATION_EVENTS.name
    order_id: str = Field(min_length=2, max_length=60)
    area: str = Field(pattern=AREA)
    court: str = Field(min_length=2, max_length=200)
    start_date: date
    treatment_months: int = Field(ge=6, le=36, description="Treatment and testing period (CJA03 s.209)")
    review_schedule: str | None = Field(None, max_length=200)
    responsible_officer: str = Field(min_length=2, max_length=100)
    high_risk: bool = False


class ComplianceRecorded(EventPayload):
    """An appointment kept, an acceptable or unacceptable absence, a refused sample or a test result."""

    event_type = "probation.compliance_recorded"
    topic = PROBATION_EVENTS.name
    order_id: str = Field(min_length=2, max_length=60)
    record_id: str = Field(min_length=2, max_length=100, description="The sender's id; a repeat is ignored")
    kind: ComplianceKind
    on: date
    reason: str | None = Field(None, max_length=500)
    result: str | None = Field(None, pattern="^(positive|negative)$")
    straight_to_breach: bool = Field(
        False, description="The responsible officer goes straight to breach (D2)"
    )


class OrderEnded(EventPayload):
    event_type = "probation.order_ended"
    topic = PROBATION_EVENTS.name
    order_id: str = Field(min_length=2, max_length=60)
    ended_on: date
    reason: str = Field(min_length=2, max_length=200)


INBOUND = EventRegistry(OrderMade, ComplianceRecorded, OrderEnded)

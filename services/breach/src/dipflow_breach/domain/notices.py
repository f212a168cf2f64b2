"""What probation liaison is told, pure: a warning (D2), a breach and whether it is fast-tracked (D3, D5), an
arrest request, a due date or an arrest target that passed (D4, D5). Each notice goes into the area's feed
with a stable id; the webhook body is the notice with that id, its kind, area, person and time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dipflow_breach.domain.arrests import ArrestRequest
from dipflow_breach.domain.cases import BreachCase, Step
from dipflow_breach.domain.drr import FormalWarning


@dataclass(frozen=True)
class Notice:
    kind: str
    area: str
    person_id: str
    body: dict[str, Any]

    def message(self, notification_id: str, created_at: datetime) -> dict[str, Any]:
        """The notice as the feed keeps it and the webhook sends it."""
        return {
            "notification_id": notification_id,
            "kind": self.kind,
            "area": self.area,
            "person_id": self.person_id,
            "created_at": created_at.isoformat(),
            **self.body,
        }


@dataclass(frozen=True)
class Notification:
    """A notice in the feed, with its delivery to the area's webhook so far."""

    seq: int
    notification_id: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    dead_lettered_at: datetime | None
    last_error: str | None


def warning_issued(
    order_id: str, area: str, person_id: str, warning: FormalWarning, rule_ids: list[str]
) -> Notice:
    """D2: the warning as given."""
    return Notice(
        "warning",
        area,
        person_id,
        {
            "order_id": order_id,
            "issued_on": warning.issued_on.isoformat(),
            "reason": warning.reason,
            "rule_ids": rule_ids,
            "text": warning.text,
        },
    )


def breach_opened(case: BreachCase) -> Notice:
    """D3, with the D4 due dates; D5: told at once whether it is fast-tracked."""
    return Notice(
        "breach",
        case.area,
        case.person_id,
        {
            "case_id": case.case_id,
            "order_id": case.order_id,
            "failure_on": case.failure_on.isoformat(),
            "enforcement_due": case.enforcement_due.isoformat(),
            "hearing_due": case.hearing_due.isoformat(),
            "fast_track": case.fast_track,
            "ppo": case.ppo,
            "high_risk": case.high_risk,
            "rule_ids": case.rule_ids,
            "reason": case.reason,
        },
    )


def step_overdue(case: BreachCase, step: Step, due: date) -> Notice:
    """D4: a due date passed with nothing recorded."""
    return Notice(
        f"{step}_overdue",
        case.area,
        case.person_id,
        {"case_id": case.case_id, "due": due.isoformat(), "rule_ids": ["D4"]},
    )


def arrest_requested(request: ArrestRequest) -> Notice:
    return Notice(
        "arrest_requested",
        request.area,
        request.person_id,
        {
            "request_id": request.request_id,
            "source": str(request.source),
            "basis": request.basis,
            "premium": request.premium,
            "deadline_at": request.deadline_at.isoformat(),
            "rule_ids": request.rule_ids,
        },
    )


def arrest_overdue(request: ArrestRequest) -> Notice:
    """D5: the arrest target passed with the person not arrested."""
    return Notice(
        "arrest_overdue",
        request.area,
        request.person_id,
        {
            "request_id": request.request_id,
            "deadline_at": request.deadline_at.isoformat(),
            "premium": request.premium,
            "rule_ids": request.rule_ids,
        },
    )

"""What an alert is, independent of storage: who must act (a role in an area, perhaps one worker), on what (a
person and a case), by when, under which rules; and the states it moves through. Plain Python."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dipflow.errors import Conflict

NAMESPACE = uuid.UUID("3a0d6f3e-8e71-4c55-9a7e-5f0f2b7c1d44")


class AlertState(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    escalated = "escalated"
    resolved = "resolved"


def alert_id(kind: str, subject: str) -> str:
    """The same alert always has the same id: raising it twice is raising it once."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{subject}"))


@dataclass(frozen=True)
class RaiseAlert:
    """An alert to raise: ``kind`` and ``subject`` name it (``subject`` is usually the case and the deadline),
    ``role``/``area`` (and ``assignee`` for one worker) must act by ``due_at``."""

    kind: str
    subject: str
    role: str
    area: str
    due_at: datetime
    summary: str
    rule_ids: tuple[str, ...] = ()
    person_id: str | None = None
    case_id: str | None = None
    assignee: str | None = None

    @property
    def alert_id(self) -> str:
        return alert_id(self.kind, self.subject)


@dataclass(frozen=True)
class Alert:
    alert_id: str
    seq: int
    kind: str
    subject: str
    person_id: str | None
    case_id: str | None
    role: str
    area: str
    assignee: str | None
    due_at: datetime
    rule_ids: tuple[str, ...]
    summary: str
    state: AlertState
    raised_at: datetime
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


class AlertClosed(Conflict):
    """An alert already resolved cannot be acknowledged again."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(f"alert {alert.alert_id} is already resolved", kind="alert-resolved")


def check_acknowledge(alert: Alert) -> None:
    if alert.state is AlertState.resolved:
        raise AlertClosed(alert)

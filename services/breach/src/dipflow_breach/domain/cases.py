"""Breach cases (docs/rules.md D3-D5), pure.

A :class:`BreachCase` is opened for the failure that breached an order (D3), with the enforcement and first
hearing due dates (D4) and the fast track for a PPO or a high-risk offender (D5). Enforcement action and the
hearing are recorded on it; the hearing puts the case before the court and closes it, so later failures on the
order are dealt with afresh (D2, D3). A due date that passes with nothing recorded on an open case escalates to
probation liaison, once (D4).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dipflow_breach.domain.arrests import end_of_day, fast_track
from dipflow_breach.domain.drr import Decision, Order, Outcome

ENFORCEMENT_DUE = "breach.enforcement_due"
HEARING_DUE = "breach.hearing_due"


class Step(StrEnum):
    """What D4 puts a due date on."""

    enforcement = "enforcement"
    hearing = "hearing"


STEP_DUE = {ENFORCEMENT_DUE: Step.enforcement, HEARING_DUE: Step.hearing}
"""Each D4 timer and the step whose due date it watches."""


@dataclass
class BreachCase:
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
    enforcement: str | None = None
    enforcement_at: datetime | None = None
    hearing_on: date | None = None
    escalations: list[str] = field(default_factory=list)
    opened_at: datetime | None = None
    closed_at: datetime | None = None

    @classmethod
    def open(cls, order: Order, failure_on: date, outcome: Outcome, *, ppo: bool) -> BreachCase:
        """D3: proceedings for the failure on ``failure_on`` with the D4 due dates of ``outcome``; D5 adds the
        fast track for a PPO or an offender flagged high-risk."""
        if (
            outcome.decision is not Decision.breach
            or outcome.enforcement_due is None
            or outcome.hearing_due is None
        ):
            raise ValueError(f"a breach case is opened for a breach, not for {outcome.decision}")
        fast = fast_track(ppo=ppo, high_risk=order.high_risk)
        return cls(
            case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:breach:{order.order_id}:{failure_on}")),
            order_id=order.order_id,
            person_id=order.person_id,
            area=order.area,
            failure_on=failure_on,
            enforcement_due=outcome.enforcement_due,
            hearing_due=outcome.hearing_due,
            ppo=ppo,
            high_risk=order.high_risk,
            rule_ids=[*outcome.rule_ids, *(["D5"] if fast else [])],
            reason=outcome.reason,
        )

    @property
    def fast_track(self) -> bool:
        """D5."""
        return fast_track(ppo=self.ppo, high_risk=self.high_risk)

    def due_times(self) -> dict[str, datetime]:
        """D4: each due date's timer, at the end of its day."""
        return {ENFORCEMENT_DUE: end_of_day(self.enforcement_due), HEARING_DUE: end_of_day(self.hearing_due)}

    def record_enforcement(self, action: str, at: datetime) -> None:
        self.enforcement, self.enforcement_at = action, at

    def record_hearing(self, on: date, at: datetime) -> None:
        """The case is before the court: it closes, and later failures on the order are dealt with afresh (D2,
        D3)."""
        self.hearing_on, self.closed_at = on, at

    def escalate(self, step: Step) -> date | None:
        """D4: the due date of ``step`` passed; on an open case with nothing recorded for it, the escalation is
        recorded and its due date returned. None when there is nothing to escalate."""
        if self.closed_at is not None:
            return None
        if step is Step.enforcement:
            if self.enforcement:
                return None
            due = self.enforcement_due
        else:
            if self.hearing_on is not None:
                return None
            due = self.hearing_due
        self.escalations.append(str(step))
        return due

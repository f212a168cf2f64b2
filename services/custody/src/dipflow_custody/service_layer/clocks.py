"""Custody's clocks that a person must act on (docs/rules.md T3, T12), as alerts:

- an oral inspector authorisation still not confirmed in writing a set time after it was given: to the area's
  inspectors (T3);
- a confirmatory result not received by its due day (5 working days from dispatch): to the suite's custody
  officers (T12), alongside the ``custody.confirmation_overdue`` event and open item.

Each clock runs from the fact's own time; the answer (the written confirmation, the confirmatory result) resolves
the alert in its own unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dipflow.alerts import store as alerts
from dipflow.alerts.model import RaiseAlert
from dipflow.auth.principal import Role
from dipflow.events.timers import Deadline, DeadlineHandler
from dipflow.uow import UnitOfWork
from dipflow_custody.adapters import repository as detentions
from dipflow_custody.domain import events
from dipflow_custody.domain.detention import Detention

ORAL_AUTHORISATION = "oral-authorisation-given"
WRITTEN_CONFIRMATION_OVERDUE = "written-confirmation-overdue"
CONFIRMATION_OVERDUE = "confirmation-overdue"


@dataclass(frozen=True)
class ClockPolicy:
    written_confirmation_within: timedelta


async def after_action(uow: UnitOfWork, d: Detention, event: events.DetentionEvent | None) -> None:
    """Start or stop the clocks an action touches, and resolve the alerts it answers."""
    match event:
        case events.InspectorDecisionRecorded(oral=True, written_confirmation="pending"):
            await uow.schedule(ORAL_AUTHORISATION, d.detention_id, event.at, {"at": event.at.isoformat()})
        case events.WrittenConfirmationRecorded():
            await alerts.resolve(
                uow, WRITTEN_CONFIRMATION_OVERDUE, d.detention_id, resolution="confirmed in writing"
            )
        case events.ConfirmatoryResultRecorded() if not d.awaiting_confirmation:
            await alerts.resolve(uow, CONFIRMATION_OVERDUE, d.detention_id, resolution="confirmatory result")
        case _:
            pass


async def confirmation_overdue(uow: UnitOfWork, d: Detention, overdue: events.ConfirmationOverdue) -> None:
    """T12: the confirmatory result did not come by its due day: the suite's custody officers must chase it."""
    area = await detentions.area_of(uow, d.detention_id) or d.suite
    await alerts.raise_alert(
        uow,
        RaiseAlert(
            kind=CONFIRMATION_OVERDUE,
            subject=d.detention_id,
            role=str(Role.custody_officer),
            area=area,
            due_at=overdue.due_at,
            summary=f"The confirmatory result for {', '.join(overdue.drugs)} (sample dispatched for analysis) was "
            f"due by {overdue.due_at:%d %b %Y %H:%M}: chase the laboratory and record it.",
            rule_ids=("T12",),
            person_id=d.person_id,
            case_id=d.detention_id,
        ),
    )


def timers(policy: ClockPolicy) -> dict[str, DeadlineHandler]:
    async def oral_authorisation(uow: UnitOfWork, deadline: Deadline) -> None:
        given = datetime.fromisoformat(deadline.payload["at"])
        due = given + policy.written_confirmation_within
        await uow.schedule(WRITTEN_CONFIRMATION_OVERDUE, deadline.subject, due, deadline.payload)

    async def written_confirmation_overdue(uow: UnitOfWork, deadline: Deadline) -> None:
        loaded = await detentions.load(uow, deadline.subject, lock=False)
        if loaded is None:
            return
        d, _, area = loaded
        a = d.authorisation
        if a is None or a.written_confirmation != "pending" or a.at.isoformat() != deadline.payload["at"]:
            return
        await alerts.raise_alert(
            uow,
            RaiseAlert(
                kind=WRITTEN_CONFIRMATION_OVERDUE,
                subject=d.detention_id,
                role=str(Role.inspector),
                area=area,
                due_at=deadline.due_at,
                summary=f"The oral {a.decision} given at {a.at:%d %b %Y %H:%M} by {a.by} is not yet confirmed in "
                "writing: the officer who gave it confirms it.",
                rule_ids=("T3",),
                person_id=d.person_id,
                case_id=d.detention_id,
            ),
        )

    return {
        ORAL_AUTHORISATION: oral_authorisation,
        WRITTEN_CONFIRMATION_OVERDUE: written_confirmation_overdue,
    }

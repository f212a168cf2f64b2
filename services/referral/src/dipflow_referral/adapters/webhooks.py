"""Team webhooks in the referral database: each team's (area's) URL and secret (``team_webhooks``), and the
deliveries of new assignments to it (``webhook_deliveries``), which ``dipflow.webhooks`` attempts through
:data:`DELIVERIES`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dipflow.uow import UnitOfWork
from dipflow.webhooks import DeliveryTable, TableDeliveries, queue_with_first_attempt
from dipflow_referral.contracts.webhooks import TeamAssignment


@dataclass(frozen=True)
class Delivery:
    id: int
    body: TeamAssignment
    attempts: int
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


async def set_for_team(uow: UnitOfWork, area: str, url: str, secret: str) -> None:
    await TEAMS.set_receiver(uow, area, url, secret)


async def queue(uow: UnitOfWork, area: str, body: TeamAssignment, *, delivered_by: str) -> None:
    """A delivery to the team of ``area`` when it has a webhook, with its first attempt (a ``delivered_by``
    timer), queued with the transaction's other writes. The body is kept as it will be sent (times as ISO 8601
    with their offset)."""
    if not await TEAMS.has_receiver(uow, area):
        return
    stored = {**body.model_dump(mode="json"), "appointment_at": body.appointment_at.isoformat()}
    await queue_with_first_attempt(
        uow,
        delivered_by,
        "INSERT INTO webhook_deliveries (area, body) VALUES ($1, $2) RETURNING id",
        area,
        stored,
    )


async def recent(uow: UnitOfWork, area: str) -> list[Delivery]:
    """The team's 200 latest deliveries, newest first."""
    rows = await uow.conn.fetch(
        "SELECT id, body, attempts, delivered_at, failed_at, last_error FROM webhook_deliveries WHERE area = $1 "
        "ORDER BY id DESC LIMIT 200",
        area,
    )
    return [
        Delivery(
            r["id"],
            TeamAssignment.model_validate(r["body"]),
            r["attempts"],
            r["delivered_at"],
            r["failed_at"],
            r["last_error"],
        )
        for r in rows
    ]


TEAMS = DeliveryTable(
    table="webhook_deliveries", key="id", receivers="team_webhooks", given_up="failed_at", delivery_id="id"
)
DELIVERIES = TableDeliveries(TEAMS)
"""Team webhook deliveries for :mod:`dipflow.webhooks`; a delivery's key (and the id receivers see) is its row id."""

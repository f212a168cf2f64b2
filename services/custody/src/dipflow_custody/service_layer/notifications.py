"""Station and area notifications (reference data admins manage): who tests, on arrest or on charge, under 18,
and where assessment and restriction-on-bail arrangements exist, each from a date."""

from __future__ import annotations

from datetime import date

from dipflow.errors import Conflict, InvalidInput, NotFound
from dipflow.uow import UnitOfWork
from dipflow_custody.adapters import reference
from dipflow_custody.domain.notifications import NotificationPeriod


async def list_notifications(uow: UnitOfWork, place: str | None) -> list[tuple[int, NotificationPeriod]]:
    """Every notification (of ``place`` when given) with its id, by place, kind and start."""
    return await reference.list_notifications(uow, place)


async def notify(uow: UnitOfWork, period: NotificationPeriod) -> int:
    """A new notification period; one overlapping a period of the same place and kind is refused."""
    if period.valid_to is not None and period.valid_to < period.valid_from:
        raise InvalidInput("valid_to is before valid_from", field="body.valid_to", reason="before valid_from")
    new_id = await reference.add_notification(uow, period)
    if new_id is None:
        raise Conflict(
            f"{period.place} already has a {period.kind} notification overlapping these dates",
            kind="overlapping-notification",
        )
    await uow.audit("notification.add", detail={"id": new_id, "place": period.place})
    return new_id


async def end(uow: UnitOfWork, notification_id: int, valid_to: date) -> None:
    if not await reference.end_notification(uow, notification_id, valid_to):
        starts = await reference.notification_start(uow, notification_id)
        if starts is None:
            raise NotFound("notification", str(notification_id))
        raise InvalidInput(
            f"the notification starts on {starts}: it cannot end before that",
            field="body.valid_to",
            reason=f"before valid_from ({starts})",
        )
    await uow.audit("notification.end", detail={"id": notification_id})

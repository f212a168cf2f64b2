"""Station and area notifications (reference data admins manage): who tests, on arrest or on charge, under 18,
and where assessment and restriction-on-bail arrangements exist, each from a date."""

from __future__ import annotations

from datetime import date

from dipflow.errors import Conflict, InvalidInput, NotFound
from dipflow.uow import UnitOfWork
from dipflow_custody.adapters import reference as records
from dipflow_custody.domain.notifications import NotificationPeriod
from dipflow_custody.service_layer import reference


async def list_notifications(uow: UnitOfWork, place: str | None) -> list[tuple[int, NotificationPeriod]]:
    """Every notification (of ``place`` when given) with its id, by place, kind and start."""
    return await records.list_notifications(uow, place)


async def notify(uow: UnitOfWork, period: NotificationPeriod) -> int:
    """A new notification period of a suite or an area; one overlapping a period of the same place and kind is
    refused. The place's record goes out with it (``reference.v1``)."""
    if period.valid_to is not None and period.valid_to < period.valid_from:
        raise InvalidInput("valid_to is before valid_from", field="body.valid_to", reason="before valid_from")
    kind = await reference.place_kind(uow, period.place)
    new_id = await records.add_notification(uow, period, reference.actor_of(uow))
    if new_id is None:
        raise Conflict(
            f"{period.place} already has a {period.kind} notification overlapping these dates",
            kind="overlapping-notification",
        )
    await uow.audit("notification.add", detail={"id": new_id, "place": period.place})
    await reference.publish(uow, kind, period.place)
    return new_id


async def end(uow: UnitOfWork, notification_id: int, valid_to: date) -> None:
    place = await records.end_notification(uow, notification_id, valid_to, reference.actor_of(uow))
    if place is None:
        starts = await records.notification_start(uow, notification_id)
        if starts is None:
            raise NotFound("notification", str(notification_id))
        raise InvalidInput(
            f"the notification starts on {starts}: it cannot end before that",
            field="body.valid_to",
            reason=f"before valid_from ({starts})",
        )
    await uow.audit("notification.end", detail={"id": notification_id})
    await reference.publish(uow, await reference.place_kind(uow, place), place)

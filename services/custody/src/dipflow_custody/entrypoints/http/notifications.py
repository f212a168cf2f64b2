"""/v1/notifications: which suites test on arrest, on charge and under 18, and which areas have assessment and
restriction-on-bail arrangements, each from a date (admins change them; everyone reads them)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from dipflow.http.params import RowId
from dipflow_custody.contracts.bodies import EndNotification, NotificationIn
from dipflow_custody.entrypoints.http.deps import Admin, SignedIn
from dipflow_custody.entrypoints.http.schemas import NotificationView
from dipflow_custody.service_layer import notifications

router = APIRouter(prefix="/v1/notifications", tags=["station notifications"])


@router.get("", response_model=list[NotificationView], summary="Notifications, optionally for one place")
async def list_notifications(
    ctx: SignedIn, place: str | None = Query(None, max_length=60)
) -> list[NotificationView]:
    async with ctx.unit_of_work() as uow:
        found = await notifications.list_notifications(uow, place)
    return [
        NotificationView(id=i, place=p.place, kind=p.kind, valid_from=p.valid_from, valid_to=p.valid_to)
        for i, p in found
    ]


@router.post("", status_code=201, response_model=NotificationView, summary="Notify a place (admins)")
async def add_notification(body: NotificationIn, ctx: Admin) -> NotificationView:
    async with ctx.unit_of_work() as uow:
        new_id = await notifications.notify(uow, body.period())
    return NotificationView(id=new_id, **body.model_dump())


@router.post("/{notification_id}/end", status_code=204, summary="End a notification on a date (admins)")
async def end_notification(notification_id: RowId, body: EndNotification, ctx: Admin) -> None:
    async with ctx.unit_of_work() as uow:
        await notifications.end(uow, notification_id, body.valid_to)

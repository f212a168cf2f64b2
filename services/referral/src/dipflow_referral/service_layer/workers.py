"""Arrest referral workers (A9): their managers add and change them and record their leave; each change gives
out the work it makes possible (queued appointments a new worker can take) or moves the work it prevents
(appointments in a leave)."""

from __future__ import annotations

from collections.abc import Callable

from dipflow.errors import NotFound
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import views, workers
from dipflow_referral.domain.assignment import AppointmentPolicy, Leave, StaffMember
from dipflow_referral.service_layer import assignment
from dipflow_referral.service_layer.assignment import Reslotted

AreaCheck = Callable[[str], None]
"""Refuses (403) an area the caller does not cover."""
Covers = Callable[[str], bool]
"""Whether the caller covers an area (``Principal.covers``)."""


async def put_worker(
    uow: UnitOfWork, worker: StaffMember, check_area: AreaCheck, policy: AppointmentPolicy
) -> None:
    """Add or change a worker; the managers of the worker's current area decide a move to another. The queue of
    the worker's suites is then offered to them."""
    current = await workers.area_of(uow, worker.worker_id, lock=True)
    if current is not None:
        check_area(current)
    await workers.put(uow, worker)
    await assignment.assign_queued(uow, worker.suites, policy)
    await uow.audit("worker.put", detail={"worker_id": worker.worker_id})


async def area_of(uow: UnitOfWork, worker_id: str) -> str:
    """The worker's area (who manages them)."""
    area = await workers.area_of(uow, worker_id)
    if area is None:
        raise NotFound("worker", worker_id)
    return area


async def add_leave(
    uow: UnitOfWork, worker_id: str, leave: Leave, check_area: AreaCheck, policy: AppointmentPolicy
) -> Reslotted:
    """Leave recorded; the worker's waiting appointments in it go to colleagues, or to the queue (A9)."""
    check_area(await area_of(uow, worker_id))
    await workers.add_leave(uow, worker_id, leave)
    moved = await assignment.reassign_for_leave(uow, worker_id, leave.first_day, leave.last_day, policy)
    detail = {"worker_id": worker_id, "moved": moved.moved, "queued": moved.queued}
    await uow.audit("worker.leave", detail=detail)
    return moved


async def staff(uow: UnitOfWork, area: str | None, covers: Covers) -> list[StaffMember]:
    """The workers (of ``area``) in areas the caller covers."""
    return [w for w in await workers.staff(uow, area) if covers(w.area)]


async def unassigned(uow: UnitOfWork, area: str | None, covers: Covers) -> list[views.Queued]:
    """A9: appointments nobody could take, in areas the caller covers."""
    return [q for q in await views.unassigned(uow, area) if covers(q.area)]

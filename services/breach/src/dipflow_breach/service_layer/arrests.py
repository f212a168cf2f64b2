"""Arrest requests: opened once per source (a DRR breach, a failure at a required assessment, a broken bail
condition) with their target and liaison notice, escalated when the target passes (D5), closed by the person's
next custody booking with the time to arrest (D6), cancelled when the prosecution behind them is dropped (A6);
and K3 over them. Each is one unit of work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dipflow.events import EventPayload
from dipflow.events.timers import Deadline
from dipflow.periods import Granularity, bounds, whole_periods
from dipflow.uow import UnitOfWork
from dipflow_breach.adapters import repository, views
from dipflow_breach.contracts.events import (
    ArrestMade,
    ArrestRequestCancelled,
    ArrestRequested,
    ArrestRequestEscalated,
)
from dipflow_breach.domain import notices
from dipflow_breach.domain.arrests import (
    ARREST_TARGET,
    PROSECUTION_DROPPED,
    ArrestPolicy,
    ArrestRequest,
    Booking,
    K3Row,
    RequestArrest,
    k3,
    k3_baseline,
)
from dipflow_breach.service_layer import alerting, notifications

Covers = Callable[[str], bool]
"""Whether the caller covers an area (``Principal.covers``)."""


@dataclass(frozen=True)
class DropProsecution:
    """A6: the prosecution for the person's failures at an assessment was dropped."""

    person_id: str
    assessment_id: str


async def request_arrest(uow: UnitOfWork, command: RequestArrest, policy: ArrestPolicy) -> None:
    """Open the request (once per source reference) and emit what happened, as of when it was requested."""
    events = await open_request(uow, command, policy)
    if events:
        await uow.emit(command.person_id, [(e, command.requested_at) for e in events])


async def open_request(uow: UnitOfWork, command: RequestArrest, policy: ArrestPolicy) -> list[EventPayload]:
    """The request with its target timer and liaison notice; closed at once by a booking already seen that
    answers it (D6). Its events, for the caller to emit; none when the source reference had one already."""
    await repository.lock_people(uow, [command.person_id])
    request = ArrestRequest.open(command, ppo=await repository.is_ppo(uow, command.person_id), policy=policy)
    if not await repository.add_request(uow, request):
        return []
    await uow.schedule(ARREST_TARGET, request.request_id, request.deadline_at)
    await notifications.notify(uow, notices.arrest_requested(request))
    await alerting.arrest_requested(uow, request)
    events: list[EventPayload] = [
        ArrestRequested(
            request_id=request.request_id,
            source=str(request.source),
            source_ref=request.source_ref,
            area=request.area,
            basis=request.basis,
            premium=request.premium,
            ppo=request.ppo,
            deadline_at=request.deadline_at,
            rule_ids=request.rule_ids,
        )
    ]
    booking = request.first_answer(await repository.bookings_of(uow, command.person_id))
    if booking is not None:
        events += await _close(uow, request, booking)
    return events


async def read_ahead(uow: UnitOfWork, reading: Sequence[str], opening: Sequence[str]) -> None:
    """D6 for a batch of events, before its first: the locks of every person whose requests it reads or opens,
    taken at once in one order (so two batches never hold one each while waiting for the other's), then the
    open requests of ``reading`` read once, and whether each of ``opening`` is a PPO (D5)."""
    await repository.lock_people(uow, [*reading, *opening])
    await repository.read_open_requests(uow, reading)
    await repository.read_ahead_ppo(uow, opening)


async def on_booked_in(uow: UnitOfWork, booking: Booking) -> int:
    """D6: a custody booking closes the person's open requests made before it, each with its time to arrest.
    How many it closed."""
    await repository.lock_people(uow, [booking.person_id])
    await repository.add_booking(uow, booking)
    events: list[EventPayload] = []
    for request in await repository.open_requests_of(uow, booking.person_id):
        events += await _close(uow, request, booking)
    if events:
        await uow.emit(booking.person_id, [(e, booking.arrested_at) for e in events])
    return len(events)


async def _close(uow: UnitOfWork, request: ArrestRequest, booking: Booking) -> list[EventPayload]:
    arrest = request.close(booking)
    if arrest is None:
        return []
    await repository.save_request(uow, request)
    await uow.cancel(ARREST_TARGET, request.request_id)
    await alerting.arrest_answered(uow, request, f"arrested ({booking.detention_id})")
    return [
        ArrestMade(
            request_id=request.request_id,
            source=str(request.source),
            arrested_at=arrest.arrested_at,
            detention_id=arrest.detention_id,
            hours_to_arrest=arrest.hours_to_arrest,
            within_target=arrest.within_target,
        )
    ]


async def on_arrest_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """D5: the target passed with the person not arrested: escalated to probation liaison, once."""
    request = await repository.load_request_for_timer(uow, deadline.subject)
    now = datetime.now(UTC)
    if request is None or not request.escalate(now):
        return
    await repository.save_request(uow, request)
    await notifications.notify(uow, notices.arrest_overdue(request))
    await alerting.arrest_overdue(uow, request)
    escalated = ArrestRequestEscalated(
        request_id=request.request_id, deadline_at=request.deadline_at, premium=request.premium
    )
    await uow.emit(request.person_id, [(escalated, now)])


async def cancel_for_dropped_prosecution(uow: UnitOfWork, command: DropProsecution) -> int:
    """A6: a negative confirmation drops any prosecution for earlier failures at the assessment: their open
    arrest requests are cancelled. How many."""
    now = datetime.now(UTC)
    cancelled = []
    for request in await repository.open_requests_of(uow, command.person_id):
        if request.dropped_with(command.assessment_id):
            request.cancel(PROSECUTION_DROPPED, now)
            await repository.save_request(uow, request)
            await uow.cancel(ARREST_TARGET, request.request_id)
            await alerting.arrest_answered(uow, request, f"cancelled: {PROSECUTION_DROPPED}")
            cancelled.append(request)
    if cancelled:
        events = [
            ArrestRequestCancelled(request_id=r.request_id, reason=PROSECUTION_DROPPED, rule_ids=["A6"])
            for r in cancelled
        ]
        await uow.emit(command.person_id, [(e, now) for e in events])
    return len(cancelled)


async def in_area(uow: UnitOfWork, area: str, *, open_only: bool) -> list[ArrestRequest]:
    found = await views.requests_in(uow, area, open_only=open_only)
    await uow.audit("arrest_requests.list", detail={"area": area, "returned": len(found)})
    return found


async def time_to_arrest(
    uow: UnitOfWork,
    since: date,
    until: date,
    covers: Covers,
    per: Granularity | None = None,
    baseline: str | None = None,
) -> list[K3Row]:
    """K3 over the requests made in the period (whole periods when ``per`` is given) in the areas the caller
    covers, beside the ``baseline`` period's distribution when one is named."""
    if per is not None:
        since, until = whole_periods(since, until, per)
    outcomes = [o for o in await views.arrest_outcomes(uow, since, until) if covers(o.borough)]
    compared = None
    if baseline is not None:
        before = [o for o in await views.arrest_outcomes(uow, *bounds(baseline)) if covers(o.borough)]
        compared = (baseline, k3_baseline(before))
    return k3(outcomes, per, compared)

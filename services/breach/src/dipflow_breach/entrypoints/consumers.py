"""Breach's Kafka subscriptions, each beside its handler: probation's commands on ``probation.events.v1`` (consumer
group ``<service>.probation``), and the custody and referral events that open, close and cancel arrest requests
(``<service>.events``). The local copy of the PPO register is kept by :data:`dipflow.ppo_copy.SUBSCRIPTION`.

A command that breaks a rule is refused for good: dead-lettered at once with its reason. A compliance record or
an end for an order this service has not seen is retried, then dead-lettered as a handler that keeps failing.
"""

from __future__ import annotations

from collections.abc import Sequence

from dipflow.errors import NotFound
from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow.topics import CUSTODY_EVENTS, PROBATION_EVENTS, REFERRAL_EVENTS
from dipflow.uow import UnitOfWork, system_actor
from dipflow.wiring import Subscription
from dipflow_breach.contracts.consumed import (
    CONSUMED,
    BailConditionBreachedView,
    BookedInView,
    FailureNotifiedView,
    RequirementsEndedView,
)
from dipflow_breach.contracts.inbound import INBOUND, ComplianceRecorded, OrderEnded, OrderMade
from dipflow_breach.domain.arrests import ArrestPolicy, Booking, RequestArrest, Source
from dipflow_breach.service_layer import arrests, orders


class OrderNotSeen(LookupError):
    """A record for an order this service has not seen (yet): retried, not refused at once."""


def _trusted(_: str) -> None:
    """Probation systems on the command topic act for their own areas (enforced by topic ACLs)."""


def probation_handler(policy: ArrestPolicy) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        work = uow.acting_as(system_actor(envelope.producer))
        try:
            match payload:
                case OrderMade():
                    await orders.make_order(work, orders.order_from(envelope.person_id, payload))
                case ComplianceRecorded():
                    await orders.record_compliance(work, orders.compliance_from(payload), policy, _trusted)
                case OrderEnded():
                    command = orders.EndOrder(payload.order_id, payload.ended_on, payload.reason)
                    await orders.end_order(work, command, _trusted)
        except NotFound as exc:
            raise OrderNotSeen(str(exc)) from exc

    return handle


def events_handler(policy: ArrestPolicy) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        person = envelope.person_id
        match payload:
            case BookedInView():
                await arrests.on_booked_in(uow, Booking(payload.detention_id, person, payload.arrested_at))
            case FailureNotifiedView():
                wanted = RequestArrest(
                    person_id=person,
                    source=Source.assessment_failure,
                    source_ref=f"{payload.assessment_id}:{payload.offence}",
                    area=payload.area,
                    requested_at=envelope.occurred_at,
                    offence=payload.offence,
                    failed_to="remain" if payload.outcome == "failed_to_remain" else "attend",
                )
                await arrests.request_arrest(uow, wanted, policy)
            case BailConditionBreachedView():
                wanted = RequestArrest(
                    person_id=person,
                    source=Source.bail_condition,
                    source_ref=payload.detention_id,
                    area=payload.area,
                    requested_at=envelope.occurred_at,
                )
                await arrests.request_arrest(uow, wanted, policy)
            case RequirementsEndedView() if payload.prosecution_dropped:
                await arrests.cancel_for_dropped_prosecution(
                    uow, arrests.DropProsecution(person, payload.assessment_id)
                )
            case _:
                pass

    return handle


async def read_ahead_probation(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]]) -> None:
    """A batch's compliance records and ends read their orders (locked), the records' outcomes, the orders'
    warnings and open proceedings, and whether the records' people are PPOs, once."""
    await orders.read_ahead(
        uow,
        [p.order_id for _, p in events if isinstance(p, (ComplianceRecorded, OrderEnded))],
        [p.record_id for _, p in events if isinstance(p, ComplianceRecorded)],
        [e.person_id for e, p in events if isinstance(p, ComplianceRecorded)],
    )


async def read_ahead(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]]) -> None:
    """A batch's bookings and dropped prosecutions read their people's open requests once; its failures and
    broken conditions open requests: the people of both locked first, together."""
    reading = [
        e.person_id
        for e, p in events
        if isinstance(p, BookedInView) or (isinstance(p, RequirementsEndedView) and p.prosecution_dropped)
    ]
    opening = [
        e.person_id for e, p in events if isinstance(p, (FailureNotifiedView, BailConditionBreachedView))
    ]
    await arrests.read_ahead(uow, reading, opening)


def subscriptions(policy: ArrestPolicy) -> list[Subscription]:
    """Probation's commands, and the custody and referral events, each in its own consumer group."""
    return [
        Subscription(
            "probation",
            [PROBATION_EVENTS.name],
            INBOUND,
            probation_handler(policy),
            prefetch=read_ahead_probation,
            gathers=True,
        ),
        Subscription(
            "events",
            [CUSTODY_EVENTS.name, REFERRAL_EVENTS.name],
            CONSUMED,
            events_handler(policy),
            prefetch=read_ahead,
            gathers=True,
        ),
    ]

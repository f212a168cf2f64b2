"""The subscription to ``custody.events.v1`` (consumer group ``<service>.custody-events``): each custody fact the
referral service needs, as a tolerant view (``contracts/consumed.py``), applied in the consumer's unit of work;
other custody types are skipped. The events it causes name the custody event as their cause."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow.uow import UnitOfWork
from dipflow.wiring import Subscription
from dipflow_referral.contracts.consumed import (
    CONSUMED,
    BookedInView,
    ChargedView,
    ConfirmatoryView,
    CustodyFactView,
    OffenceAddedView,
    ReleasedView,
    ResultView,
    SampleDispatchedView,
    SampleTakenView,
)
from dipflow_referral.contracts.events import CONSUMES
from dipflow_referral.domain.assessment import PositiveResult
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.service_layer import custody_facts

GROUP = "custody-events"


def custody_handler(policy: AppointmentPolicy) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        person, at = envelope.person_id, envelope.occurred_at
        match payload:
            case BookedInView():
                await custody_facts.booked_in(uow, _booking(person, payload))
            case OffenceAddedView():
                await custody_facts.offence_added(uow, _offence(person, payload, at))
            case SampleTakenView():
                await custody_facts.sample_taken(uow, payload.detention_id, person, payload.suite, at)
            case ResultView() if payload.result == "positive":
                await custody_facts.positive_result(uow, _positive(person, payload, at), policy)
            case SampleDispatchedView():
                await custody_facts.sample_dispatched(uow, payload.detention_id, at, policy)
            case ConfirmatoryView() if payload.result == "negative":
                await custody_facts.confirmed_negative(uow, payload.detention_id, payload.drug, at)
            case ChargedView():
                await custody_facts.charged(uow, _charge(person, payload, at))
            case ReleasedView():
                await custody_facts.released(uow, payload.detention_id, person, payload.suite, at)
            case _:
                pass

    return handle


def _booking(person: str, v: BookedInView) -> custody_facts.Booking:
    return custody_facts.Booking(
        v.detention_id, person, v.suite, v.suite_area, v.home_area, v.age, v.arrested_at, v.is_ppo
    )


def _offence(person: str, v: OffenceAddedView, at: datetime) -> custody_facts.OffenceRecorded:
    return custody_facts.OffenceRecorded(v.detention_id, person, v.suite, v.code, v.trigger_offence, at)


def _positive(person: str, v: ResultView, at: datetime) -> PositiveResult:
    return PositiveResult(
        person_id=person,
        detention_id=v.detention_id,
        suite=v.suite,
        home_area=v.home_area,
        drug=v.drug,
        disputed=v.confirmation_required,
        age=v.age,
        initial_notified=bool(v.initial_assessment_notified),
        follow_up_notified=bool(v.follow_up_assessment_notified),
        at=at,
    )


def _charge(person: str, v: ChargedView, at: datetime) -> custody_facts.Charge:
    return custody_facts.Charge(
        v.detention_id, person, v.suite, v.codes, v.restriction_on_bail_notified, v.home_area, v.age, at
    )


MOVES_ASSESSMENTS = (ResultView, SampleDispatchedView, ConfirmatoryView, ReleasedView)
"""The facts whose handling loads the detention's assessment."""


async def read_ahead(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]]) -> None:
    """One read per aggregate per batch: the detentions the batch's facts name, and the assessments of those
    whose facts may move one, read and locked before the first fact is applied."""
    await custody_facts.read_ahead(
        uow,
        [p.detention_id for _, p in events if isinstance(p, CustodyFactView)],
        [p.detention_id for _, p in events if isinstance(p, MOVES_ASSESSMENTS)],
    )


def custody_subscription(policy: AppointmentPolicy) -> Subscription:
    return Subscription(GROUP, CONSUMES, CONSUMED, custody_handler(policy), prefetch=read_ahead)

"""The read models kept from custody and referral events, in the consumer's transaction: positive results and
failed assessments (P2, P3), arrests and charges (K1, K2). A positive or a failure re-checks the panel flag
(once per batch, at its end, for everyone its events named).
Days are London days of when each thing happened."""

from __future__ import annotations

from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_ppo_register.adapters import results
from dipflow_ppo_register.contracts.consumed import (
    AttendanceRecordedView,
    BookedInView,
    ChargedView,
    ConfirmatoryResultView,
    InspectorDecisionView,
    OffenceAddedView,
    ReleasedView,
    ResultRecordedView,
)
from dipflow_ppo_register.domain.panel import AssessmentFailure
from dipflow_ppo_register.domain.positives import PositiveResult
from dipflow_ppo_register.service_layer import flags

FAILURES = ("failed_to_attend", "failed_to_remain")


def event_handler(*, panel_threshold: int) -> Handler:
    """The consumer's handler, with the P3 threshold from settings."""

    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        person = envelope.person_id
        day = london_day(envelope.occurred_at)
        match payload:
            case BookedInView():
                await results.booked_in(
                    uow, payload.detention_id, person, london_day(payload.arrested_at), payload.suite
                )
            case OffenceAddedView():
                await results.offence_added(
                    uow,
                    payload.detention_id,
                    person,
                    payload.code,
                    trigger=payload.trigger_offence,
                    offence=not payload.arrest_power,
                )
            case InspectorDecisionView():
                await results.inspector_decided(uow, payload.detention_id, person, payload.decision)
            case ChargedView():
                await results.charged(uow, payload.detention_id, person, day, payload.codes)
            case ReleasedView():
                await results.released(uow, payload.detention_id, person, day, payload.release)
            case ResultRecordedView() if payload.result == "positive":
                result = PositiveResult(person, payload.detention_id, day, payload.drug, payload.home_area)
                await results.positive(uow, result)
                await flags.reconsider_later(uow, person, threshold=panel_threshold)
            case ConfirmatoryResultView() if payload.result == "negative":
                await results.void_positive(uow, payload.detention_id, payload.drug)
            case AttendanceRecordedView() if payload.outcome in FAILURES and not payload.good_cause:
                failure = AssessmentFailure(person, payload.assessment_id, day, payload.outcome)
                await results.assessment_failed(uow, envelope.event_id, failure)
                await flags.reconsider_later(uow, person, threshold=panel_threshold)
            case _:
                pass

    return handle

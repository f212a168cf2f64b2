"""The consumer of custody.events.v1: keeps the custody facts referral needs and drives required assessments
(A1, A6) and restriction on bail (B1, B4)."""

from __future__ import annotations

import asyncpg

from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow_referral import bail_cases, handlers
from dipflow_referral.consumed import (
    BookedInView,
    ChargedView,
    ConfirmatoryView,
    OffenceAddedView,
    ReleasedView,
    ResultView,
    SampleDispatchedView,
    SampleTakenView,
)
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.domain.bail import CLASS_A_POSSESSION

BAIL_CONDITION_ARREST = "BA1976-s7"


def custody_handler(policy: AppointmentPolicy) -> Handler:
    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        ctx = handlers.Context(envelope.correlation_id, envelope)
        person = envelope.person_id
        at = envelope.occurred_at
        match payload:
            case BookedInView():
                await conn.execute(
                    "INSERT INTO detentions (detention_id, person_id, suite, home_area, age, arrested_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (detention_id) DO UPDATE SET suite = $3, "
                    "home_area = $4, age = $5, arrested_at = $6",
                    payload.detention_id, person, payload.suite, payload.home_area, payload.age, payload.arrested_at,
                )  # fmt: skip
            case OffenceAddedView():
                # B1: possession involving a *specified* Class A drug on the offence date; custody's trigger check
                # for MDA s.5(2)/(3) is exactly that (CJCSA Sch 6 lists them only for specified Class A drugs)
                class_a = payload.code in CLASS_A_POSSESSION and payload.trigger_offence
                await _ensure(conn, payload.detention_id, person, payload.suite)
                await conn.execute(
                    "UPDATE detentions SET offence_codes = array_append(offence_codes, $2), class_a_offence_codes = "
                    "CASE WHEN $3 THEN array_append(class_a_offence_codes, $2) ELSE class_a_offence_codes END "
                    "WHERE detention_id = $1",
                    payload.detention_id, payload.code, class_a,
                )  # fmt: skip
                if payload.code == BAIL_CONDITION_ARREST:
                    arrested = await conn.fetchval(
                        "SELECT arrested_at FROM detentions WHERE detention_id = $1", payload.detention_id
                    )
                    await bail_cases.on_breach_arrest(conn, person, payload.detention_id, arrested or at, ctx)
            case SampleTakenView():
                await _ensure(conn, payload.detention_id, person, payload.suite)
                await conn.execute(
                    "UPDATE detentions SET sample_taken_at = coalesce(sample_taken_at, $2) WHERE detention_id = $1",
                    payload.detention_id, at,
                )  # fmt: skip
            case ResultView() if payload.result == "positive":
                await _ensure(conn, payload.detention_id, person, payload.suite)
                await conn.execute(
                    "UPDATE detentions SET positive_drugs = array_append(array_remove(positive_drugs, $2), $2), "
                    "home_area = coalesce(home_area, $3) WHERE detention_id = $1",
                    payload.detention_id, payload.drug, payload.home_area,
                )  # fmt: skip
                await handlers.on_positive(
                    conn, person_id=person, detention_id=payload.detention_id, suite=payload.suite,
                    home_area=payload.home_area, drug=payload.drug, disputed=payload.confirmation_required,
                    age=payload.age, initial_notified=bool(payload.initial_assessment_notified),
                    follow_up_notified=bool(payload.follow_up_assessment_notified), at=at, policy=policy, ctx=ctx,
                )  # fmt: skip
                await bail_cases.reevaluate(conn, payload.detention_id, at, ctx)
            case SampleDispatchedView():
                await handlers.on_sample_dispatched(conn, payload.detention_id, at, policy, ctx)
            case ConfirmatoryView() if payload.result == "negative":
                await conn.execute(
                    "UPDATE detentions SET positive_drugs = array_remove(positive_drugs, $2) WHERE detention_id = $1",
                    payload.detention_id, payload.drug,
                )  # fmt: skip
                await handlers.on_confirmed_negative(conn, payload.detention_id, payload.drug, at, ctx)
                await bail_cases.reevaluate(conn, payload.detention_id, at, ctx)
            case ChargedView():
                await _ensure(conn, payload.detention_id, person, payload.suite)
                await conn.execute(
                    "UPDATE detentions SET charged_at = $2, charged_codes = $3, restriction_notified = $4, "
                    "home_area = coalesce($5, home_area), age = coalesce($6, age) WHERE detention_id = $1",
                    payload.detention_id, at, payload.codes, payload.restriction_on_bail_notified, payload.home_area,
                    payload.age,
                )  # fmt: skip
                await bail_cases.reevaluate(conn, payload.detention_id, at, ctx)
            case ReleasedView():
                await _ensure(conn, payload.detention_id, person, payload.suite)
                await conn.execute(
                    "UPDATE detentions SET released_at = $2 WHERE detention_id = $1", payload.detention_id, at
                )
                await handlers.on_released(conn, payload.detention_id, at, ctx)
            case _:
                pass

    return handle


async def _ensure(conn: asyncpg.Connection, detention_id: str, person_id: str, suite: str) -> None:
    await conn.execute(
        "INSERT INTO detentions (detention_id, person_id, suite) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        detention_id, person_id, suite,
    )  # fmt: skip

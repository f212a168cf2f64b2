"""Consumers: probation's inbound topic, the referral and custody events that open and close arrest requests,
and the local copy of the PPO register."""

from __future__ import annotations

import asyncpg

from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow_breach import handlers
from dipflow_breach.commands import ComplianceRecorded, OrderEnded, OrderMade
from dipflow_breach.consumed import (
    BailConditionBreachedView,
    BookedInView,
    FailureNotifiedView,
    PpoStatusView,
    RequirementsEndedView,
)
from dipflow_breach.domain.arrests import ArrestPolicy, Source


def probation_handler(policy: ArrestPolicy) -> Handler:
    """Commands from probation systems; one that breaks a rule fails, and after retries is dead-lettered with
    the reason."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        ctx = handlers.Context(envelope.correlation_id, envelope)
        match payload:
            case OrderMade():
                await handlers.make_order(conn, envelope.person_id, payload)
            case ComplianceRecorded():
                await handlers.record_compliance(conn, payload, policy=policy, ctx=ctx)
            case OrderEnded():
                await handlers.end_order(conn, payload)

    return handle


def events_handler(policy: ArrestPolicy) -> Handler:
    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        ctx = handlers.Context(envelope.correlation_id, envelope)
        person = envelope.person_id
        match payload:
            case BookedInView():
                await handlers.on_booked_in(conn, person, payload.detention_id, payload.arrested_at, ctx)
            case FailureNotifiedView():
                await handlers.request_arrest(
                    conn, person_id=person, source=Source.assessment_failure,
                    source_ref=f"{payload.assessment_id}:{payload.offence}", area=payload.area,
                    requested_at=envelope.occurred_at, fast_track=await handlers.is_ppo(conn, person), policy=policy,
                    ctx=ctx, offence=payload.offence,
                    failed_to="remain" if payload.outcome == "failed_to_remain" else "attend",
                )  # fmt: skip
            case BailConditionBreachedView():
                await handlers.request_arrest(
                    conn, person_id=person, source=Source.bail_condition, source_ref=payload.detention_id,
                    area=payload.area, requested_at=envelope.occurred_at,
                    fast_track=await handlers.is_ppo(conn, person), policy=policy, ctx=ctx,
                )  # fmt: skip
            case RequirementsEndedView() if payload.prosecution_dropped:
                await handlers.cancel_for_dropped_prosecution(conn, person, payload.assessment_id, ctx)
            case _:
                pass

    return handle


async def on_ppo_status(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, PpoStatusView)
    await conn.execute(
        "INSERT INTO ppo_register (person_id, borough) VALUES ($1, $2) ON CONFLICT (person_id) DO UPDATE "
        "SET borough = $2, updated_at = now()",
        envelope.person_id, payload.borough,
    )  # fmt: skip


async def on_ppo_removed(conn: asyncpg.Connection, key: bytes) -> None:
    await conn.execute("DELETE FROM ppo_register WHERE person_id = $1", key.decode())

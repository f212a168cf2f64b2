"""Read models kept from custody and referral events, in the consumer's transaction: positive results and
failed assessments (P2, P3), arrests and charges (K1, K2). A positive or a failure re-checks the panel flag.

The writes are queued for the end of the consumer's batch (:func:`dipflow.db.appends.queue_write`), so a
batch's arrests go to the server as one pipelined statement; the flag check flushes them first."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from dipflow.db.appends import queue_write
from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow_ppo_register import flags
from dipflow_ppo_register.consumed import (
    AttendanceRecordedView,
    BookedInView,
    ChargedView,
    ConfirmatoryResultView,
    InspectorDecisionView,
    OffenceAddedView,
    ResultRecordedView,
)

LONDON = ZoneInfo("Europe/London")
FAILURES = ("failed_to_attend", "failed_to_remain")


def london_day(at: datetime) -> date:
    return at.astimezone(LONDON).date()


def event_handler(*, panel_threshold: int) -> Handler:
    """The consumer's handler, with the P3 threshold from settings."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        person = envelope.person_id
        day = london_day(envelope.occurred_at)
        match payload:
            case BookedInView():
                await queue_write(
                    conn,
                    "INSERT INTO arrests (detention_id, person_id, arrested_on, suite) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (detention_id) DO UPDATE SET arrested_on = $3, suite = $4",
                    payload.detention_id, person, london_day(payload.arrested_at), payload.suite,
                )  # fmt: skip
            case OffenceAddedView():
                await queue_write(
                    conn,
                    "INSERT INTO arrests AS a (detention_id, person_id, codes, trigger_offence, offences) "
                    "VALUES ($1, $2, ARRAY[$3], $4, $5) ON CONFLICT (detention_id) DO UPDATE SET "
                    "codes = array_append(a.codes, $3), trigger_offence = a.trigger_offence OR $4, "
                    "offences = a.offences + $5",
                    payload.detention_id, person, payload.code, payload.trigger_offence,
                    0 if payload.arrest_power else 1,
                )  # fmt: skip
            case InspectorDecisionView():
                await queue_write(
                    conn,
                    "INSERT INTO arrests AS a (detention_id, person_id, inspector_decision) VALUES ($1, $2, $3) "
                    "ON CONFLICT (detention_id) DO UPDATE SET inspector_decision = $3",
                    payload.detention_id, person, payload.decision,
                )  # fmt: skip
            case ChargedView():
                await queue_write(
                    conn,
                    "INSERT INTO charges (detention_id, person_id, charged_on, codes) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (detention_id) DO UPDATE SET charged_on = $3, codes = $4",
                    payload.detention_id, person, day, payload.codes,
                )  # fmt: skip
            case ResultRecordedView() if payload.result == "positive":
                await queue_write(
                    conn,
                    "INSERT INTO positive_results (detention_id, drug, person_id, sampled_on, home_area) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (detention_id, drug) DO NOTHING",
                    payload.detention_id, payload.drug, person, day, payload.home_area,
                )  # fmt: skip
                await flags.reconsider(conn, person, threshold=panel_threshold)
            case ConfirmatoryResultView() if payload.result == "negative":
                await queue_write(
                    conn,
                    "UPDATE positive_results SET void = true WHERE detention_id = $1 AND drug = $2",
                    payload.detention_id, payload.drug,
                )  # fmt: skip
            case AttendanceRecordedView() if payload.outcome in FAILURES and not payload.good_cause:
                await queue_write(
                    conn,
                    "INSERT INTO assessment_failures (event_id, person_id, assessment_id, occurred_on, outcome) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    envelope.event_id, person, payload.assessment_id, day, payload.outcome,
                )  # fmt: skip
                await flags.reconsider(conn, person, threshold=panel_threshold)
            case _:
                pass

    return handle

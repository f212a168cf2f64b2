"""The breach service layer: one transaction per command or consumed event; state, outbox events, deadlines
and liaison notifications together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg

from dipflow.events import Envelope, EventPayload, outbox
from dipflow.events.timers import Deadline, cancel_deadline, lock_or_try_later, schedule_deadline
from dipflow_breach.commands import ComplianceRecorded, OrderEnded, OrderMade
from dipflow_breach.domain.arrests import ArrestPolicy, Source, arrest_target, end_of_day, hours_between
from dipflow_breach.domain.drr import Decision, Outcome, issue_warning_or_breach
from dipflow_breach.events import (
    TOPIC,
    ArrestMade,
    ArrestRequestCancelled,
    ArrestRequested,
    ArrestRequestEscalated,
    ComplianceDecided,
    DeadlinePassed,
    ProceedingsStarted,
    WarningIssued,
)
from dipflow_breach.notifications import notify

PRODUCER = "breach"
ARREST_TARGET = "breach.arrest_target"
ENFORCEMENT_DUE = "breach.enforcement_due"
HEARING_DUE = "breach.hearing_due"


class NotFound(LookupError):
    pass


class RuleViolation(Exception):
    def __init__(self, rule_id: str, reason: str) -> None:
        super().__init__(f"{rule_id}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


@dataclass(frozen=True)
class Context:
    correlation_id: str
    causation: Envelope | None = None


async def emit(
    conn: asyncpg.Connection, person_id: str, payloads: Sequence[EventPayload], at: datetime, ctx: Context
) -> None:
    await outbox.emit(conn, topic=TOPIC, producer=PRODUCER, person_id=person_id, payloads=[(p, at) for p in payloads],
                      correlation_id=ctx.correlation_id, causation=ctx.causation)  # fmt: skip


AREA_OF = {
    ("orders", "order_id"): "SELECT area FROM orders WHERE order_id = $1",
    ("breach_cases", "case_id"): "SELECT area FROM breach_cases WHERE case_id = $1",
}


async def area_of(conn: asyncpg.Connection, table: str, key: str, value: str) -> str | None:
    """The area of one order or breach case (who may act on it follows from it)."""
    area: str | None = await conn.fetchval(AREA_OF[(table, key)], value)
    return area


async def is_ppo(conn: asyncpg.Connection, person_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM ppo_register WHERE person_id = $1", person_id))


# -- orders ----------------------------------------------------------------------------------------------------


async def make_order(conn: asyncpg.Connection, person_id: str, order: OrderMade) -> bool:
    """Record a DRR order; the same order sent again changes nothing. Returns whether it was new."""
    done = await conn.execute(
        "INSERT INTO orders (order_id, person_id, area, court, start_date, treatment_months, review_schedule, "
        "responsible_officer, high_risk) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (order_id) DO NOTHING",
        order.order_id, person_id, order.area, order.court, order.start_date, order.treatment_months,
        order.review_schedule, order.responsible_officer, order.high_risk,
    )  # fmt: skip
    return bool(done.endswith(" 1"))


async def load_order(conn: asyncpg.Connection, order_id: str, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM orders WHERE order_id = $1" + (" FOR UPDATE" if lock else ""), order_id
    )
    if row is None:
        raise NotFound(order_id)
    return row


async def end_order(conn: asyncpg.Connection, ended: OrderEnded) -> None:
    order = await load_order(conn, ended.order_id, lock=True)
    if order["ended_on"] is not None:
        return
    await conn.execute(
        "UPDATE orders SET ended_on = $2, end_reason = $3 WHERE order_id = $1",
        ended.order_id,
        ended.ended_on,
        ended.reason,
    )


async def set_high_risk(conn: asyncpg.Connection, order_id: str, high_risk: bool) -> None:
    await load_order(conn, order_id, lock=True)
    await conn.execute("UPDATE orders SET high_risk = $2 WHERE order_id = $1", order_id, high_risk)


async def record_compliance(
    conn: asyncpg.Connection, record: ComplianceRecorded, *, policy: ArrestPolicy, ctx: Context
) -> Outcome:
    """D1-D4 for one compliance record: the outcome, the warning or breach case, deadlines, the fast track
    (D5) and notifications. A record sent again (same record id) returns the first outcome."""
    order = await load_order(conn, record.order_id, lock=True)
    previous = await conn.fetchrow(
        "SELECT decision, rule_ids, explanation FROM compliance WHERE record_id = $1", record.record_id
    )
    if previous is not None:
        return Outcome(Decision(previous["decision"]), tuple(previous["rule_ids"]), previous["explanation"])
    if record.on < order["start_date"] or (order["ended_on"] is not None and record.on > order["ended_on"]):
        raise RuleViolation("D1", "the record falls outside the order's period")
    warnings = [
        r["issued_on"]
        for r in await conn.fetch("SELECT issued_on FROM warnings WHERE order_id = $1", record.order_id)
    ]
    breach_open = bool(await conn.fetchval(
        "SELECT 1 FROM breach_cases WHERE order_id = $1 AND closed_at IS NULL", record.order_id))  # fmt: skip
    outcome = issue_warning_or_breach(record.kind, record.on, warnings=warnings, breach_open=breach_open,
                                      straight_to_breach=record.straight_to_breach, detail=record.reason)  # fmt: skip
    await conn.execute(
        "INSERT INTO compliance (order_id, record_id, kind, on_date, reason, result, decision, rule_ids, explanation) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        record.order_id, record.record_id, str(record.kind), record.on, record.reason, record.result,
        str(outcome.decision), list(outcome.rule_ids), outcome.reason,
    )  # fmt: skip
    now = datetime.now(UTC)
    person = order["person_id"]
    events: list[EventPayload] = [ComplianceDecided(
        order_id=record.order_id, kind=str(record.kind), on=record.on, decision=str(outcome.decision),
        rule_ids=list(outcome.rule_ids), reason=outcome.reason)]  # fmt: skip
    if outcome.decision is Decision.warning:
        await conn.execute(
            "INSERT INTO warnings (order_id, issued_on, reason, text) VALUES ($1, $2, $3, $4)",
            record.order_id,
            record.on,
            outcome.reason,
            outcome.warning_text,
        )
        events.append(WarningIssued(order_id=record.order_id, issued_on=record.on, reason=outcome.reason,
                                    rule_ids=list(outcome.rule_ids), text=outcome.warning_text))  # fmt: skip
        await notify(conn, area=order["area"], person_id=person, kind="warning",
                     body={"order_id": record.order_id, "issued_on": record.on.isoformat(), "reason": outcome.reason,
                           "rule_ids": list(outcome.rule_ids), "text": outcome.warning_text})  # fmt: skip
    if outcome.decision is Decision.breach:
        events += await _open_breach(conn, order, record.on, outcome, policy=policy, now=now, ctx=ctx)
    await emit(conn, person, events, now, ctx)
    return outcome


async def _open_breach(
    conn: asyncpg.Connection, order: asyncpg.Record, failure_on: date, outcome: Outcome, *, policy: ArrestPolicy,
    now: datetime, ctx: Context,
) -> list[EventPayload]:  # fmt: skip
    assert outcome.enforcement_due is not None and outcome.hearing_due is not None
    ppo = await is_ppo(conn, order["person_id"])
    case_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:breach:{order['order_id']}:{failure_on}"))
    fast_track = ppo or order["high_risk"]
    rule_ids = [*outcome.rule_ids, *(["D5"] if fast_track else [])]
    await conn.execute(
        "INSERT INTO breach_cases (case_id, order_id, person_id, area, failure_on, enforcement_due, hearing_due, ppo, "
        "high_risk, rule_ids, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        case_id, order["order_id"], order["person_id"], order["area"], failure_on, outcome.enforcement_due,
        outcome.hearing_due, ppo, order["high_risk"], rule_ids, outcome.reason,
    )  # fmt: skip
    await schedule_deadline(conn, ENFORCEMENT_DUE, case_id, end_of_day(outcome.enforcement_due))
    await schedule_deadline(conn, HEARING_DUE, case_id, end_of_day(outcome.hearing_due))
    await notify(conn, area=order["area"], person_id=order["person_id"], kind="breach",
                 body={"case_id": case_id, "order_id": order["order_id"], "failure_on": failure_on.isoformat(),
                       "enforcement_due": outcome.enforcement_due.isoformat(),
                       "hearing_due": outcome.hearing_due.isoformat(), "fast_track": fast_track, "ppo": ppo,
                       "high_risk": order["high_risk"], "rule_ids": rule_ids, "reason": outcome.reason})  # fmt: skip
    started = ProceedingsStarted(
        case_id=case_id, order_id=order["order_id"], area=order["area"], failure_on=failure_on,
        enforcement_due=outcome.enforcement_due, hearing_due=outcome.hearing_due, ppo=ppo, high_risk=order["high_risk"],
        rule_ids=rule_ids, reason=outcome.reason,
    )  # fmt: skip
    requested = await request_arrest(
        conn, person_id=order["person_id"], source=Source.drr_breach, source_ref=case_id, area=order["area"],
        requested_at=now, fast_track=fast_track, enforcement_due=outcome.enforcement_due, policy=policy, ctx=ctx,
        emit_now=False,
    )  # fmt: skip
    return [started, *requested]


async def record_enforcement(
    conn: asyncpg.Connection, case_id: str, action: str, at: datetime
) -> asyncpg.Record:
    case = await conn.fetchrow("SELECT * FROM breach_cases WHERE case_id = $1 FOR UPDATE", case_id)
    if case is None:
        raise NotFound(case_id)
    await conn.execute(
        "UPDATE breach_cases SET enforcement = $2, enforcement_at = $3 WHERE case_id = $1",
        case_id,
        action,
        at,
    )
    await cancel_deadline(conn, ENFORCEMENT_DUE, case_id)
    return case


async def record_hearing(conn: asyncpg.Connection, case_id: str, on: date) -> asyncpg.Record:
    case = await conn.fetchrow("SELECT * FROM breach_cases WHERE case_id = $1 FOR UPDATE", case_id)
    if case is None:
        raise NotFound(case_id)
    # the case is before the court: later failures on the order are dealt with afresh (D2, D3)
    await conn.execute(
        "UPDATE breach_cases SET hearing_on = $2, closed_at = now() WHERE case_id = $1", case_id, on
    )
    await cancel_deadline(conn, HEARING_DUE, case_id)
    return case


async def on_case_deadline(conn: asyncpg.Connection, deadline: Deadline) -> None:
    """D4: a due date passed with nothing recorded: escalate to probation liaison."""
    case = await lock_or_try_later(
        conn, "SELECT * FROM breach_cases WHERE case_id = $1 FOR UPDATE NOWAIT", deadline.subject
    )
    if case is None or case["closed_at"] is not None:
        return
    which = "enforcement" if deadline.kind == ENFORCEMENT_DUE else "hearing"
    if (which == "enforcement" and case["enforcement"]) or (which == "hearing" and case["hearing_on"]):
        return
    due = case["enforcement_due"] if which == "enforcement" else case["hearing_due"]
    await conn.execute("UPDATE breach_cases SET escalations = array_append(escalations, $2) WHERE case_id = $1",
                       deadline.subject, which)  # fmt: skip
    await notify(conn, area=case["area"], person_id=case["person_id"], kind=f"{which}_overdue",
                 body={"case_id": case["case_id"], "due": due.isoformat(), "rule_ids": ["D4"]})  # fmt: skip
    await emit(conn, case["person_id"], [DeadlinePassed(case_id=case["case_id"], deadline=which, due=due)],
               datetime.now(UTC), Context(str(uuid.uuid4())))  # fmt: skip


# -- arrest requests ---------------------------------------------------------------------------------------------


async def request_arrest(
    conn: asyncpg.Connection, *, person_id: str, source: Source, source_ref: str, area: str, requested_at: datetime,
    fast_track: bool, policy: ArrestPolicy, ctx: Context, enforcement_due: date | None = None,
    offence: str | None = None, emit_now: bool = True, failed_to: str = "attend",
) -> list[EventPayload]:  # fmt: skip
    """Open an arrest request (once per source reference), with its deadline timer and liaison notice."""
    ppo = await is_ppo(conn, person_id)
    target = arrest_target(source, requested_at, policy, fast_track=fast_track, enforcement_due=enforcement_due,
                           offence=offence, failed_to=failed_to)  # fmt: skip
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:arrest:{source}:{source_ref}"))
    done = await conn.execute(
        "INSERT INTO arrest_requests (request_id, person_id, source, source_ref, area, basis, rule_ids, premium, ppo, "
        "requested_at, deadline_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (source, source_ref) DO NOTHING",
        request_id, person_id, str(source), source_ref, area, target.basis, list(target.rule_ids), target.premium, ppo,
        requested_at, target.deadline_at,
    )  # fmt: skip
    if not done.endswith(" 1"):
        return []
    booked = await conn.fetchrow(
        "SELECT detention_id, arrested_at FROM bookings WHERE person_id = $1 AND arrested_at >= $2 "
        "ORDER BY arrested_at LIMIT 1", person_id, requested_at)  # fmt: skip
    await schedule_deadline(conn, ARREST_TARGET, request_id, target.deadline_at)
    await notify(conn, area=area, person_id=person_id, kind="arrest_requested",
                 body={"request_id": request_id, "source": str(source), "basis": target.basis, "premium": target.premium,
                       "deadline_at": target.deadline_at.isoformat(), "rule_ids": list(target.rule_ids)})  # fmt: skip
    event = ArrestRequested(request_id=request_id, source=str(source), source_ref=source_ref, area=area,
                            basis=target.basis, premium=target.premium, ppo=ppo, deadline_at=target.deadline_at,
                            rule_ids=list(target.rule_ids))  # fmt: skip
    events: list[EventPayload] = [event]
    if booked is not None:  # the booking that answers it was seen first
        events += await _close(conn, request_id, booked["detention_id"], booked["arrested_at"])
    if emit_now:
        await emit(conn, person_id, events, requested_at, ctx)
        return []
    return events


async def on_arrest_deadline(conn: asyncpg.Connection, deadline: Deadline) -> None:
    """The target passed with the person not yet arrested: escalate (D5)."""
    row = await lock_or_try_later(
        conn, "SELECT * FROM arrest_requests WHERE request_id = $1 FOR UPDATE NOWAIT", deadline.subject
    )
    if (
        row is None
        or row["arrested_at"] is not None
        or row["escalated_at"] is not None
        or row["cancelled_at"]
    ):
        return
    await conn.execute(
        "UPDATE arrest_requests SET escalated_at = now() WHERE request_id = $1", deadline.subject
    )
    await notify(conn, area=row["area"], person_id=row["person_id"], kind="arrest_overdue",
                 body={"request_id": row["request_id"], "deadline_at": row["deadline_at"].isoformat(),
                       "premium": row["premium"], "rule_ids": list(row["rule_ids"])})  # fmt: skip
    await emit(conn, row["person_id"], [ArrestRequestEscalated(request_id=row["request_id"],
               deadline_at=row["deadline_at"], premium=row["premium"])], datetime.now(UTC), Context(str(uuid.uuid4())))  # fmt: skip


async def _close(
    conn: asyncpg.Connection, request_id: str, detention_id: str, arrested_at: datetime
) -> list[EventPayload]:
    row = await conn.fetchrow(
        "UPDATE arrest_requests SET arrested_at = $2, arrest_detention_id = $3 WHERE request_id = $1 "
        "AND arrested_at IS NULL AND cancelled_at IS NULL RETURNING source, requested_at, deadline_at",
        request_id, arrested_at, detention_id,
    )  # fmt: skip
    if row is None:
        return []
    await cancel_deadline(conn, ARREST_TARGET, request_id)
    return [ArrestMade(
        request_id=request_id, source=row["source"], arrested_at=arrested_at, detention_id=detention_id,
        hours_to_arrest=round(hours_between(row["requested_at"], arrested_at), 3),
        within_target=arrested_at <= row["deadline_at"],
    )]  # fmt: skip


async def on_booked_in(
    conn: asyncpg.Connection, person_id: str, detention_id: str, arrested_at: datetime, ctx: Context
) -> int:
    """D6: a custody booking closes the person's open arrest requests made before it; time to arrest."""
    await conn.execute(
        "INSERT INTO bookings (detention_id, person_id, arrested_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        detention_id, person_id, arrested_at,
    )  # fmt: skip
    rows = await conn.fetch(
        "SELECT request_id FROM arrest_requests WHERE person_id = $1 AND arrested_at IS NULL AND cancelled_at IS NULL "
        "AND requested_at <= $2",
        person_id, arrested_at,
    )  # fmt: skip
    events: list[EventPayload] = []
    for row in rows:
        events += await _close(conn, row["request_id"], detention_id, arrested_at)
    if events:
        await emit(conn, person_id, events, arrested_at, ctx)
    return len(events)


async def cancel_for_dropped_prosecution(
    conn: asyncpg.Connection, person_id: str, assessment_id: str, ctx: Context
) -> int:
    """A6: a negative confirmation drops any prosecution for earlier failures to attend: their open arrest
    requests are cancelled."""
    rows = await conn.fetch(
        "UPDATE arrest_requests SET cancelled_at = now(), cancel_reason = 'prosecution dropped (A6)' "
        "WHERE source = $1 AND source_ref LIKE $2 AND arrested_at IS NULL AND cancelled_at IS NULL "
        "RETURNING request_id",
        str(Source.assessment_failure), f"{assessment_id}:%",
    )  # fmt: skip
    for row in rows:
        await cancel_deadline(conn, ARREST_TARGET, row["request_id"])
    if rows:
        await emit(conn, person_id, [ArrestRequestCancelled(request_id=r["request_id"], reason="prosecution dropped (A6)",
                                                            rule_ids=["A6"]) for r in rows], datetime.now(UTC), ctx)  # fmt: skip
    return len(rows)

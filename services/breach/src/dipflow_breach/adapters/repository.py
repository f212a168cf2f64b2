"""Orders, their compliance records and warnings, breach cases, arrest requests and custody bookings in the breach
database, loaded as the domain's aggregates and saved back; and the local copy of the PPO register."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import asyncpg

from dipflow import ppo_copy
from dipflow.events.timers import lock_all_or_try_later, lock_or_try_later
from dipflow.uow import UnitOfWork
from dipflow_breach.domain.arrests import ArrestRequest, Booking, Source
from dipflow_breach.domain.cases import BreachCase
from dipflow_breach.domain.drr import ComplianceEntry, Decision, FormalWarning, Order, Outcome

ORDER_COLUMNS = (
    "order_id, person_id, area, court, start_date, treatment_months, responsible_officer, review_schedule, "
    "high_risk, ended_on, end_reason, created_at"
)
CASE_COLUMNS = (
    "case_id, order_id, person_id, area, failure_on, enforcement_due, hearing_due, ppo, high_risk, rule_ids, "
    "reason, enforcement, enforcement_at, hearing_on, escalations, opened_at, closed_at"
)
REQUEST_COLUMNS = (
    "request_id, person_id, source, source_ref, area, basis, rule_ids, premium, ppo, requested_at, deadline_at, "
    "escalated_at, arrested_at, arrest_detention_id, cancelled_at, cancel_reason"
)


def order_of(row: asyncpg.Record) -> Order:
    return Order(**dict(row))


def case_of(row: asyncpg.Record) -> BreachCase:
    return BreachCase(
        **{**dict(row), "rule_ids": list(row["rule_ids"]), "escalations": list(row["escalations"])}
    )


def request_of(row: asyncpg.Record) -> ArrestRequest:
    return ArrestRequest(**{**dict(row), "source": Source(row["source"]), "rule_ids": list(row["rule_ids"])})


def compliance_of(row: asyncpg.Record) -> ComplianceEntry:
    return ComplianceEntry(**{**dict(row), "rule_ids": list(row["rule_ids"])})


# -- orders -------------------------------------------------------------------------------------------------------


async def add_order(uow: UnitOfWork, order: Order) -> bool:
    """The order, unless it is recorded already (the same order sent again). Whether it was new."""
    done = await uow.conn.execute(
        "INSERT INTO orders (order_id, person_id, area, court, start_date, treatment_months, review_schedule, "
        "responsible_officer, high_risk) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (order_id) DO NOTHING",
        order.order_id,
        order.person_id,
        order.area,
        order.court,
        order.start_date,
        order.treatment_months,
        order.review_schedule,
        order.responsible_officer,
        order.high_risk,
    )
    added = bool(done.endswith(" 1"))
    if added and (_ORDER, order.order_id) in uow.memo:
        uow.memo[(_ORDER, order.order_id)] = order
    return added


_ORDER = "order"
_OUTCOME = "compliance-outcome"
_WARNINGS = "warning-days"
_OPEN_CASE = "open-case"


async def read_ahead_compliance(uow: UnitOfWork, order_ids: Sequence[str], record_ids: Sequence[str]) -> None:
    """For a batch of compliance records, before its first: the orders, read and locked in one statement (in id
    order), then in one more the outcomes already given to the records, and each order's warning days and
    whether proceedings are open, for :func:`load_order`, :func:`outcome_of_record`, :func:`warning_days` and
    :func:`has_open_case` to find in the transaction's memo (kept up to date as the batch writes them)."""
    orders = sorted(set(order_ids))
    rows = await uow.conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE",
        orders,
    )
    found = {r["order_id"]: order_of(r) for r in rows}
    for order_id in orders:
        uow.memo[(_ORDER, order_id)] = found.get(order_id)
    facts = await uow.conn.fetchrow(
        "SELECT (SELECT coalesce(json_agg(json_build_object('record_id', record_id, 'decision', decision, "
        "'rule_ids', rule_ids, 'explanation', explanation)), '[]') FROM compliance "
        "WHERE record_id = ANY($2::text[])) AS outcomes, "
        "(SELECT coalesce(json_agg(json_build_object('order_id', order_id, 'issued_on', issued_on)), '[]') "
        "FROM warnings WHERE order_id = ANY($1::text[])) AS warnings, "
        "ARRAY(SELECT DISTINCT order_id FROM breach_cases WHERE order_id = ANY($1::text[]) "
        "AND closed_at IS NULL) AS open_cases",
        orders,
        sorted(set(record_ids)),
    )
    for record_id in record_ids:
        uow.memo[(_OUTCOME, record_id)] = None
    for o in facts["outcomes"]:
        uow.memo[(_OUTCOME, o["record_id"])] = Outcome(
            Decision(o["decision"]), tuple(o["rule_ids"]), o["explanation"]
        )
    for order_id in orders:
        uow.memo[(_WARNINGS, order_id)] = []
        uow.memo[(_OPEN_CASE, order_id)] = order_id in facts["open_cases"]
    for w in facts["warnings"]:
        uow.memo[(_WARNINGS, w["order_id"])].append(date.fromisoformat(w["issued_on"]))


async def load_order(uow: UnitOfWork, order_id: str, *, lock: bool = True) -> Order | None:
    """The order, locked for the rest of the transaction unless ``lock`` is false (as read ahead and since
    written, when this transaction read it ahead)."""
    if lock and (_ORDER, order_id) in uow.memo:
        held: Order | None = uow.memo[(_ORDER, order_id)]
        return held
    row = await uow.conn.fetchrow(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1" + (" FOR UPDATE" if lock else ""), order_id
    )
    return None if row is None else order_of(row)


async def save_order(uow: UnitOfWork, order: Order) -> None:
    """What changes on an order: the high-risk flag (D5) and its end."""
    await uow.conn.execute(
        "UPDATE orders SET high_risk = $2, ended_on = $3, end_reason = $4 WHERE order_id = $1",
        order.order_id,
        order.high_risk,
        order.ended_on,
        order.end_reason,
    )
    if (_ORDER, order.order_id) in uow.memo:
        uow.memo[(_ORDER, order.order_id)] = order


async def area_of_order(uow: UnitOfWork, order_id: str) -> str | None:
    area: str | None = await uow.conn.fetchval("SELECT area FROM orders WHERE order_id = $1", order_id)
    return area


# -- compliance records and warnings --------------------------------------------------------------------------------


async def outcome_of_record(uow: UnitOfWork, record_id: str) -> Outcome | None:
    """The outcome a compliance record (the sender's id) was given, if it was recorded already."""
    if (_OUTCOME, record_id) in uow.memo:
        known: Outcome | None = uow.memo[(_OUTCOME, record_id)]
        return known
    row = await uow.conn.fetchrow(
        "SELECT decision, rule_ids, explanation FROM compliance WHERE record_id = $1", record_id
    )
    if row is None:
        return None
    return Outcome(Decision(row["decision"]), tuple(row["rule_ids"]), row["explanation"])


async def add_compliance(uow: UnitOfWork, order_id: str, entry: ComplianceEntry) -> None:
    """The record with its outcome; in a consumer's batch written with the batch's others (its reads of
    outcomes are read ahead)."""
    await uow.execute_unordered(
        "INSERT INTO compliance (order_id, record_id, kind, on_date, reason, result, decision, rule_ids, "
        "explanation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        order_id,
        entry.record_id,
        entry.kind,
        entry.on_date,
        entry.reason,
        entry.result,
        entry.decision,
        entry.rule_ids,
        entry.explanation,
    )
    if (_OUTCOME, entry.record_id) in uow.memo:
        outcome = Outcome(Decision(entry.decision), tuple(entry.rule_ids), entry.explanation)
        uow.memo[(_OUTCOME, entry.record_id)] = outcome


async def warning_days(uow: UnitOfWork, order_id: str) -> list[date]:
    """The days warnings were given on the order (D2, D3)."""
    if (_WARNINGS, order_id) in uow.memo:
        return list(uow.memo[(_WARNINGS, order_id)])
    rows = await uow.conn.fetch("SELECT issued_on FROM warnings WHERE order_id = $1", order_id)
    return [r["issued_on"] for r in rows]


async def add_warning(uow: UnitOfWork, order_id: str, warning: FormalWarning) -> None:
    """The warning; in a consumer's batch written with the batch's others (its reads of warning days are read
    ahead)."""
    await uow.execute_unordered(
        "INSERT INTO warnings (order_id, issued_on, reason, text) VALUES ($1, $2, $3, $4)",
        order_id,
        warning.issued_on,
        warning.reason,
        warning.text,
    )
    if (_WARNINGS, order_id) in uow.memo:
        uow.memo[(_WARNINGS, order_id)].append(warning.issued_on)


# -- breach cases -----------------------------------------------------------------------------------------------------


async def has_open_case(uow: UnitOfWork, order_id: str) -> bool:
    """Whether breach proceedings on the order are open (no hearing yet)."""
    if (_OPEN_CASE, order_id) in uow.memo:
        return bool(uow.memo[(_OPEN_CASE, order_id)])
    return bool(
        await uow.conn.fetchval(
            "SELECT 1 FROM breach_cases WHERE order_id = $1 AND closed_at IS NULL", order_id
        )
    )


async def add_case(uow: UnitOfWork, case: BreachCase) -> None:
    await uow.conn.execute(
        "INSERT INTO breach_cases (case_id, order_id, person_id, area, failure_on, enforcement_due, hearing_due, "
        "ppo, high_risk, rule_ids, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        case.case_id,
        case.order_id,
        case.person_id,
        case.area,
        case.failure_on,
        case.enforcement_due,
        case.hearing_due,
        case.ppo,
        case.high_risk,
        case.rule_ids,
        case.reason,
    )
    if (_OPEN_CASE, case.order_id) in uow.memo:
        uow.memo[(_OPEN_CASE, case.order_id)] = case.closed_at is None


async def load_case(uow: UnitOfWork, case_id: str) -> BreachCase | None:
    """The case, locked for the rest of the transaction."""
    row = await uow.conn.fetchrow(
        f"SELECT {CASE_COLUMNS} FROM breach_cases WHERE case_id = $1 FOR UPDATE", case_id
    )
    return None if row is None else case_of(row)


_TIMER_CASE = "timer-case"
_TIMER_REQUEST = "timer-request"


async def read_ahead_for_timers(uow: UnitOfWork, case_ids: Sequence[str], request_ids: Sequence[str]) -> None:
    """For a timer pass, before its handlers: the cases and the arrest requests its deadlines name, locked
    without waiting (TryLater when one is held) in one statement each, for :func:`load_case_for_timer` and
    :func:`load_request_for_timer` to find in the transaction's memo. Each one's saves in the pass are then
    written once, at its end."""
    await _lock_for_timers(uow, _TIMER_CASE, "breach_cases", "case_id", CASE_COLUMNS, case_of, case_ids)
    await _lock_for_timers(
        uow, _TIMER_REQUEST, "arrest_requests", "request_id", REQUEST_COLUMNS, request_of, request_ids
    )


async def _lock_for_timers(
    uow: UnitOfWork,
    memo: str,
    table: str,
    key: str,
    columns: str,
    loaded: Callable[[asyncpg.Record], object],
    ids: Sequence[str],
) -> None:
    wanted = sorted(set(ids))
    if not wanted:
        return
    rows = await lock_all_or_try_later(
        uow.conn,
        f"SELECT {columns} FROM {table} WHERE {key} = ANY($1::text[]) ORDER BY {key} FOR UPDATE NOWAIT",
        wanted,
    )
    found = {r[key]: loaded(r) for r in rows}
    for id_ in wanted:
        uow.memo[(memo, id_)] = found.get(id_)


async def load_case_for_timer(uow: UnitOfWork, case_id: str) -> BreachCase | None:
    """The case locked without waiting (TryLater when a request holds it); as read ahead and since saved, when
    this transaction read it ahead."""
    if (_TIMER_CASE, case_id) in uow.memo:
        read: BreachCase | None = uow.memo[(_TIMER_CASE, case_id)]
        return read
    row = await lock_or_try_later(
        uow.conn, f"SELECT {CASE_COLUMNS} FROM breach_cases WHERE case_id = $1 FOR UPDATE NOWAIT", case_id
    )
    return None if row is None else case_of(row)


_SAVE_CASE = (
    "UPDATE breach_cases SET enforcement = $2, enforcement_at = $3, hearing_on = $4, closed_at = $5, "
    "escalations = $6 WHERE case_id = $1"
)


async def save_case(uow: UnitOfWork, case: BreachCase) -> None:
    """What changes on a case: enforcement action, the hearing (which closes it) and escalations (D4); a case a
    timer pass read ahead is written once, at the pass's end."""
    args = (
        case.case_id,
        case.enforcement,
        case.enforcement_at,
        case.hearing_on,
        case.closed_at,
        case.escalations,
    )
    if (_TIMER_CASE, case.case_id) in uow.memo:
        uow.memo[(_TIMER_CASE, case.case_id)] = case
        await uow.writes.execute_last((_TIMER_CASE, case.case_id), _SAVE_CASE, *args)
    else:
        await uow.conn.execute(_SAVE_CASE, *args)
    if (_OPEN_CASE, case.order_id) in uow.memo:
        uow.memo[(_OPEN_CASE, case.order_id)] = case.closed_at is None


async def area_of_case(uow: UnitOfWork, case_id: str) -> str | None:
    area: str | None = await uow.conn.fetchval("SELECT area FROM breach_cases WHERE case_id = $1", case_id)
    return area


# -- arrest requests and bookings -----------------------------------------------------------------------------------


async def add_request(uow: UnitOfWork, request: ArrestRequest) -> bool:
    """The request, unless one for the same source reference exists. Whether it was new."""
    done = await uow.conn.execute(
        "INSERT INTO arrest_requests (request_id, person_id, source, source_ref, area, basis, rule_ids, premium, "
        "ppo, requested_at, deadline_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (source, source_ref) DO NOTHING",
        request.request_id,
        request.person_id,
        str(request.source),
        request.source_ref,
        request.area,
        request.basis,
        request.rule_ids,
        request.premium,
        request.ppo,
        request.requested_at,
        request.deadline_at,
    )
    added = bool(done.endswith(" 1"))
    if added:
        _keep_held(uow, request)
    return added


PEOPLE_LOCK_CLASS = 6
"""The first key of the advisory locks on a person's arrest requests and bookings (D6)."""
_LOCKED = "arrests-locked"
_OPEN = "open-requests"


async def lock_people(uow: UnitOfWork, person_ids: Sequence[str]) -> None:
    """Hold, until the transaction ends, the lock on each person's arrest requests and bookings (D6), taken in
    one statement, in the order of the lock keys: a transaction that opens a request and one that records a
    booking for the same person follow one another, so the second sees the first's row. Locks this
    transaction holds already are not asked for again."""
    locked: set[str] = uow.memo.setdefault(_LOCKED, set())
    wanted = sorted(set(person_ids) - locked)
    if not wanted:
        return
    await uow.conn.execute(
        "SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext('arrests:' || p) AS k "
        "FROM unnest($2::text[]) AS p ORDER BY k OFFSET 0) AS keys",
        PEOPLE_LOCK_CLASS,
        wanted,
    )
    locked.update(wanted)


async def read_open_requests(uow: UnitOfWork, person_ids: Sequence[str]) -> None:
    """Read and lock the open arrest requests of ``person_ids`` at once, for :func:`open_requests_of` to find
    in the transaction's memo (kept up to date as requests are added and saved)."""
    wanted = sorted({p for p in person_ids if (_OPEN, p) not in uow.memo})
    if not wanted:
        return
    rows = await uow.conn.fetch(
        f"SELECT {REQUEST_COLUMNS} FROM arrest_requests "
        "WHERE person_id = ANY($1::text[]) AND arrested_at IS NULL AND cancelled_at IS NULL "
        "ORDER BY person_id, requested_at, request_id FOR UPDATE",
        wanted,
    )
    for person in wanted:
        uow.memo[(_OPEN, person)] = []
    for row in rows:
        uow.memo[(_OPEN, row["person_id"])].append(request_of(row))


async def open_requests_of(uow: UnitOfWork, person_id: str) -> list[ArrestRequest]:
    """The person's open arrest requests, oldest first, locked for the rest of the transaction."""
    held: list[ArrestRequest] | None = uow.memo.get((_OPEN, person_id))
    if held is not None:
        return list(held)
    rows = await uow.conn.fetch(
        f"SELECT {REQUEST_COLUMNS} FROM arrest_requests "
        "WHERE person_id = $1 AND arrested_at IS NULL AND cancelled_at IS NULL "
        "ORDER BY requested_at, request_id FOR UPDATE",
        person_id,
    )
    return [request_of(r) for r in rows]


def _keep_held(uow: UnitOfWork, request: ArrestRequest) -> None:
    """The held open requests of the person, with ``request`` as it is now (gone once closed or cancelled)."""
    held: list[ArrestRequest] | None = uow.memo.get((_OPEN, request.person_id))
    if held is None:
        return
    kept = [r for r in held if r.request_id != request.request_id]
    if request.is_open:
        kept.append(request)
    held[:] = sorted(kept, key=lambda r: (r.requested_at, r.request_id))


async def load_request_for_timer(uow: UnitOfWork, request_id: str) -> ArrestRequest | None:
    """The request locked without waiting (TryLater when a booking or a request holds it); as read ahead and
    since saved, when this transaction read it ahead."""
    if (_TIMER_REQUEST, request_id) in uow.memo:
        read: ArrestRequest | None = uow.memo[(_TIMER_REQUEST, request_id)]
        return read
    row = await lock_or_try_later(
        uow.conn,
        f"SELECT {REQUEST_COLUMNS} FROM arrest_requests WHERE request_id = $1 FOR UPDATE NOWAIT",
        request_id,
    )
    return None if row is None else request_of(row)


_SAVE_REQUEST = (
    "UPDATE arrest_requests SET escalated_at = $2, arrested_at = $3, arrest_detention_id = $4, "
    "cancelled_at = $5, cancel_reason = $6 WHERE request_id = $1"
)


async def save_request(uow: UnitOfWork, request: ArrestRequest) -> None:
    """What changes on a request: its escalation (D5), the arrest that closed it (D6), its cancellation (A6); a
    request a timer pass read ahead is written once, at the pass's end."""
    args = (
        request.request_id,
        request.escalated_at,
        request.arrested_at,
        request.arrest_detention_id,
        request.cancelled_at,
        request.cancel_reason,
    )
    if (_TIMER_REQUEST, request.request_id) in uow.memo:
        uow.memo[(_TIMER_REQUEST, request.request_id)] = request
        await uow.writes.execute_last((_TIMER_REQUEST, request.request_id), _SAVE_REQUEST, *args)
    else:
        await uow.conn.execute(_SAVE_REQUEST, *args)
    _keep_held(uow, request)


_BOOKINGS_QUEUED = "bookings-queued"
"""Set in the memo when a booking was queued in the transaction (:func:`bookings_of` then writes the queue)."""


async def add_booking(uow: UnitOfWork, booking: Booking) -> None:
    """A custody booking seen (once), so that a request that arrives after it is closed at once (D6); in a
    consumer's batch written with the batch's other queued writes (:func:`bookings_of` writes them first)."""
    await uow.execute(
        "INSERT INTO bookings (detention_id, person_id, arrested_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        booking.detention_id,
        booking.person_id,
        booking.arrested_at,
    )
    uow.memo[_BOOKINGS_QUEUED] = True


async def bookings_of(uow: UnitOfWork, person_id: str) -> list[Booking]:
    """The person's bookings seen, oldest first, with those this transaction queued (written first; a batch
    that queued none writes nothing here)."""
    if uow.memo.pop(_BOOKINGS_QUEUED, False):
        await uow.flush()
    rows = await uow.conn.fetch(
        "SELECT detention_id, person_id, arrested_at FROM bookings WHERE person_id = $1 ORDER BY arrested_at",
        person_id,
    )
    return [Booking(r["detention_id"], r["person_id"], r["arrested_at"]) for r in rows]


async def read_ahead_ppo(uow: UnitOfWork, person_ids: Sequence[str]) -> None:
    """Whether each of ``person_ids`` is a PPO now (D5), read at once for :func:`is_ppo`."""
    await ppo_copy.read_ahead(uow, person_ids)


async def is_ppo(uow: UnitOfWork, person_id: str) -> bool:
    """Whether the local copy of the PPO register holds the person now (D5)."""
    return await ppo_copy.is_ppo(uow, person_id)

"""Arrest referral workers in the referral database: who covers which suites, capacity, working days and leave,
and each worker's appointments per day (their load, A9)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dipflow.uow import UnitOfWork
from dipflow_referral.domain.assignment import Leave, Loads, StaffMember, Worker

_ASSIGNING = "assignments-locked"
_AREA = "worker-area"


async def lock_assignments(uow: UnitOfWork) -> None:
    """Assignments are made one at a time (workers cover several suites), so two never take the same worker's
    last slot; held to the end of the transaction (asked for once in it: a batch's positives share it)."""
    if uow.memo.get(_ASSIGNING):
        return
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext('referral-assignments'))")
    uow.memo[_ASSIGNING] = True


_COVERING = "covering"
"""The memo's workers covering each suite read in this transaction, by suite."""


async def covering(uow: UnitOfWork, suite: str) -> list[Worker]:
    """The active workers covering ``suite``, with their leave; read once per suite per transaction (which holds
    the assignment lock while it assigns; a change of workers or leave in it is seen)."""
    known: dict[str, list[Worker]] = uow.memo.setdefault(_COVERING, {})
    if suite in known:
        return list(known[suite])
    rows = await uow.conn.fetch(
        "SELECT w.worker_id, w.suites, w.daily_capacity, w.working_weekdays, w.active, "
        "coalesce(array_agg(l.first_day) FILTER (WHERE l.id IS NOT NULL), '{}') AS firsts, "
        "coalesce(array_agg(l.last_day) FILTER (WHERE l.id IS NOT NULL), '{}') AS lasts "
        "FROM workers w LEFT JOIN worker_leave l USING (worker_id) WHERE $1 = ANY(w.suites) AND w.active "
        "GROUP BY w.worker_id",
        suite,
    )
    found = [
        Worker(
            r["worker_id"],
            frozenset(r["suites"]),
            r["daily_capacity"],
            frozenset(r["working_weekdays"]),
            tuple(Leave(f, last) for f, last in zip(r["firsts"], r["lasts"], strict=True)),
            r["active"],
        )
        for r in rows
    ]
    known[suite] = found
    return list(found)


_LOADS = "worker-loads"
"""The memo's workers' loads read in this transaction (:class:`_KnownLoads`)."""

Held = tuple[str, date, datetime]
"""An appointment counting towards a worker's load: the worker, the day, the time."""


@dataclass
class _KnownLoads:
    """Each worker's appointment times by day, for the days read in this transaction, kept up to date as the
    transaction writes appointments (:func:`appointments_changed`) or forgotten (:func:`forget_loads`)."""

    days: set[date] = field(default_factory=set)
    times: dict[tuple[str, date], Counter[datetime]] = field(default_factory=dict)

    def loads(self, days: set[date]) -> Loads:
        held = {key: times for key, times in self.times.items() if key[1] in days and times.total() > 0}
        return Loads(
            {key: times.total() for key, times in held.items()},
            {key: frozenset(at for at, n in times.items() if n > 0) for key, times in held.items()},
        )


async def loads_between(
    uow: UnitOfWork, first: date, last: date, *, exclude_assessment: str | None = None
) -> Loads:
    """Each worker's appointments per day (a required assessment's, and a bail condition's waiting for its
    attendance, B3), leaving out ``exclude_assessment`` (whose own appointment is being moved, so it must not
    count against its own worker). Days read once per transaction (which holds the assignment lock while it
    assigns): what it writes since is counted in as it writes it."""
    days = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    known: _KnownLoads | None = uow.memo.get(_LOADS)
    if exclude_assessment is None and known is not None and days <= known.days:
        return known.loads(days)
    await uow.flush()  # the appointments this batch queued
    rows = await uow.conn.fetch(
        "SELECT worker_id, day, array_agg(at) AS times FROM ("
        "SELECT worker_id, day, at FROM appointments WHERE active "
        "AND worker_id IS NOT NULL AND day BETWEEN $1 AND $2 AND assessment_id IS DISTINCT FROM $3 "
        "UNION ALL SELECT condition_worker_id, (condition_appointment_at AT TIME ZONE 'Europe/London')::date, "
        "condition_appointment_at FROM bail_cases WHERE condition_worker_id IS NOT NULL "
        "AND condition_attendance IS NULL "
        "AND (condition_appointment_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2"
        ") AS held GROUP BY worker_id, day",
        first,
        last,
        exclude_assessment,
    )
    read = _KnownLoads(days, {(r["worker_id"], r["day"]): Counter(r["times"]) for r in rows})
    if exclude_assessment is not None:
        return read.loads(days)
    known = uow.memo.setdefault(_LOADS, _KnownLoads())
    known.times = {key: times for key, times in known.times.items() if key[1] not in days} | read.times
    known.days |= days
    return known.loads(days)


def appointments_changed(uow: UnitOfWork, before: list[Held], after: list[Held]) -> None:
    """An assessment's appointments counting towards loads went from ``before`` to ``after`` in this
    transaction: the loads it read are kept in step."""
    known: _KnownLoads | None = uow.memo.get(_LOADS)
    if known is None:
        return
    for change, held in ((-1, before), (1, after)):
        for worker_id, day, at in held:
            if day in known.days:
                known.times.setdefault((worker_id, day), Counter())[at] += change


def forget_loads(uow: UnitOfWork) -> None:
    """What this transaction wrote changed loads in a way not counted in: they are read again when next asked."""
    uow.memo.pop(_LOADS, None)


async def area_of(uow: UnitOfWork, worker_id: str, *, lock: bool = False) -> str | None:
    """The worker's area (their team), None for no such worker; read once per transaction unless ``lock``
    (a change of the worker in it is seen)."""
    key = (_AREA, worker_id)
    if not lock and key in uow.memo:
        known: str | None = uow.memo[key]
        return known
    area: str | None = await uow.conn.fetchval(
        "SELECT area FROM workers WHERE worker_id = $1" + (" FOR UPDATE" if lock else ""), worker_id
    )
    uow.memo[key] = area
    return area


async def put(uow: UnitOfWork, worker: StaffMember) -> None:
    """Add the worker, or replace what is recorded of them (their leave stays)."""
    await uow.conn.execute(
        "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (worker_id) DO UPDATE SET name = $2, area = $3, "
        "suites = $4, daily_capacity = $5, working_weekdays = $6, active = $7, updated_at = now()",
        worker.worker_id,
        worker.name,
        worker.area,
        list(worker.suites),
        worker.daily_capacity,
        sorted(set(worker.working_weekdays)),
        worker.active,
    )
    uow.memo[(_AREA, worker.worker_id)] = worker.area
    uow.memo.pop(_COVERING, None)


async def add_leave(uow: UnitOfWork, worker_id: str, leave: Leave) -> None:
    await uow.conn.execute(
        "INSERT INTO worker_leave (worker_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4)",
        worker_id,
        leave.first_day,
        leave.last_day,
        leave.reason,
    )
    uow.memo.pop(_COVERING, None)


async def staff(uow: UnitOfWork, area: str | None) -> list[StaffMember]:
    """The workers (of ``area`` when given) with their leave, by id."""
    rows = await uow.conn.fetch(
        "SELECT w.worker_id, w.name, w.area, w.suites, w.daily_capacity, w.working_weekdays, w.active, "
        "coalesce(json_agg(json_build_object('first_day', l.first_day, 'last_day', l.last_day, "
        "'reason', l.reason)) FILTER (WHERE l.id IS NOT NULL), '[]') AS leave FROM workers w "
        "LEFT JOIN worker_leave l USING (worker_id) WHERE $1::text IS NULL OR w.area = $1 GROUP BY w.worker_id "
        "ORDER BY w.worker_id",
        area,
    )
    return [
        StaffMember(
            r["worker_id"],
            r["name"],
            r["area"],
            tuple(r["suites"]),
            r["daily_capacity"],
            tuple(r["working_weekdays"]),
            r["active"],
            tuple(
                Leave(date.fromisoformat(x["first_day"]), date.fromisoformat(x["last_day"]), x["reason"])
                for x in r["leave"]
            ),
        )
        for r in rows
    ]

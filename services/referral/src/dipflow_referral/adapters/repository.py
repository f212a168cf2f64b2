"""asyncpg persistence for the referral service: assessments as documents, appointments (loads), workers."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import asyncpg

from dipflow_referral.domain.assessment import Appointment, Kind, RequiredAssessment, Status
from dipflow_referral.domain.assignment import LONDON, Leave, Loads, Worker


@cache
def suite_areas() -> dict[str, str]:
    data = json.loads(resources.files("dipflow_referral.data").joinpath("suites.json").read_text())
    return dict(data["suites"])


def area_of_suite(suite: str, fallback: str) -> str:
    return suite_areas().get(suite, fallback)


def _appointment_doc(a: Appointment | None) -> dict[str, Any] | None:
    return None if a is None else {"at": a.at.isoformat(), "place": a.place, "worker_id": a.worker_id}


def _appointment(doc: dict[str, Any] | None) -> Appointment | None:
    return (
        None
        if doc is None
        else Appointment(datetime.fromisoformat(doc["at"]), doc["place"], doc["worker_id"])
    )


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_doc(a: RequiredAssessment) -> dict[str, Any]:
    return {
        "case_id": a.case_id, "person_id": a.person_id, "detention_id": a.detention_id, "suite": a.suite,
        "home_area": a.home_area, "positive_drugs": sorted(a.positive_drugs), "result_at": a.result_at.isoformat(),
        "disputed": a.disputed, "follow_up_notified": a.follow_up_notified, "status": str(a.status),
        "initial": _appointment_doc(a.initial), "follow_up": _appointment_doc(a.follow_up),
        "follow_up_imposed": a.follow_up_imposed, "imposed_at": _t(a.imposed_at), "released_at": _t(a.released_at),
        "ended_reason": a.ended_reason, "needs_new_notice": a.needs_new_notice, "failures": a.failures,
        "entered_treatment_at": _t(a.entered_treatment_at), "prosecution_dropped": a.prosecution_dropped,
        "earliest_day": a.earliest_day.isoformat() if a.earliest_day else None,
        "dispatched_at": _t(a.dispatched_at), "attended": a.attended,
    }  # fmt: skip


def from_doc(d: dict[str, Any]) -> RequiredAssessment:
    return RequiredAssessment(
        case_id=d["case_id"], person_id=d["person_id"], detention_id=d["detention_id"], suite=d["suite"],
        home_area=d["home_area"], positive_drugs=set(d["positive_drugs"]),
        result_at=datetime.fromisoformat(d["result_at"]), disputed=d["disputed"],
        follow_up_notified=d["follow_up_notified"], status=Status(d["status"]),
        initial=_appointment(d["initial"]), follow_up=_appointment(d["follow_up"]),
        follow_up_imposed=d["follow_up_imposed"], imposed_at=_dt(d["imposed_at"]), released_at=_dt(d["released_at"]),
        ended_reason=d["ended_reason"], needs_new_notice=d["needs_new_notice"], failures=d["failures"],
        entered_treatment_at=_dt(d["entered_treatment_at"]), prosecution_dropped=d["prosecution_dropped"],
        earliest_day=date.fromisoformat(d["earliest_day"]) if d.get("earliest_day") else None,
        dispatched_at=_dt(d.get("dispatched_at")), attended=list(d.get("attended", [])),
    )  # fmt: skip


async def insert_assessment(conn: asyncpg.Connection, a: RequiredAssessment, area: str) -> None:
    await conn.execute(
        "INSERT INTO assessments (assessment_id, detention_id, person_id, suite, area, status, state) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        a.case_id, a.detention_id, a.person_id, a.suite, area, str(a.status), to_doc(a),
    )  # fmt: skip
    await sync_appointments(conn, a)


async def load_assessment(
    conn: asyncpg.Connection, *, assessment_id: str | None = None, detention_id: str | None = None
) -> tuple[RequiredAssessment, int, str] | None:
    """The assessment, its version and area, locked for update."""
    row = await conn.fetchrow(
        "SELECT state, version, area FROM assessments WHERE assessment_id = $1 OR detention_id = $2 FOR UPDATE",
        assessment_id, detention_id,
    )  # fmt: skip
    if row is None:
        return None
    return from_doc(row["state"]), row["version"], row["area"]


async def assessment_and_area(
    conn: asyncpg.Connection, assessment_id: str
) -> tuple[RequiredAssessment, str] | None:
    """The assessment and its area, without a lock (to decide who may act on it)."""
    row = await conn.fetchrow("SELECT state, area FROM assessments WHERE assessment_id = $1", assessment_id)
    return None if row is None else (from_doc(row["state"]), row["area"])


async def assessment_for_detention(conn: asyncpg.Connection, detention_id: str) -> RequiredAssessment | None:
    row = await conn.fetchrow("SELECT state FROM assessments WHERE detention_id = $1", detention_id)
    return None if row is None else from_doc(row["state"])


async def worker_area(conn: asyncpg.Connection, worker_id: str) -> str | None:
    area: str | None = await conn.fetchval("SELECT area FROM workers WHERE worker_id = $1", worker_id)
    return area


async def save_assessment(conn: asyncpg.Connection, a: RequiredAssessment, version: int) -> None:
    done = await conn.execute(
        "UPDATE assessments SET state = $2, status = $3, version = version + 1, updated_at = now() "
        "WHERE assessment_id = $1 AND version = $4",
        a.case_id, to_doc(a), str(a.status), version,
    )  # fmt: skip
    if done != "UPDATE 1":
        raise RuntimeError(f"assessment {a.case_id} changed concurrently")
    await sync_appointments(conn, a)


async def sync_appointments(conn: asyncpg.Connection, a: RequiredAssessment) -> None:
    """Keep the appointments table (loads, inboxes, unassigned queue) in step with the document. An appointment
    counts towards its worker's load unless the requirement lapsed or ended (A1, A6, A7), which frees it."""
    active = a.status not in (Status.lapsed, Status.ended)
    for kind, appointment in ((Kind.initial, a.initial), (Kind.follow_up, a.follow_up)):
        if appointment is None:
            continue
        await conn.execute(
            "INSERT INTO appointments (assessment_id, kind, worker_id, at, day, place, active) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (assessment_id, kind) DO UPDATE SET "
            "worker_id = $3, at = $4, day = $5, place = $6, active = $7",
            a.case_id, str(kind), appointment.worker_id, appointment.at, appointment.at.astimezone(LONDON).date(),
            appointment.place, active,
        )  # fmt: skip


async def workers_for_suite(conn: asyncpg.Connection, suite: str) -> list[Worker]:
    rows = await conn.fetch(
        "SELECT w.worker_id, w.suites, w.daily_capacity, w.working_weekdays, w.active, "
        "coalesce(array_agg(l.first_day) FILTER (WHERE l.id IS NOT NULL), '{}') AS firsts, "
        "coalesce(array_agg(l.last_day) FILTER (WHERE l.id IS NOT NULL), '{}') AS lasts "
        "FROM workers w LEFT JOIN worker_leave l USING (worker_id) WHERE $1 = ANY(w.suites) AND w.active "
        "GROUP BY w.worker_id",
        suite,
    )
    return [
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


async def loads_between(
    conn: asyncpg.Connection, first: date, last: date, *, exclude_assessment: str | None = None
) -> Loads:
    """Each worker's appointments per day, leaving out ``exclude_assessment`` (whose own appointment is being
    moved, so it must not count against its own worker)."""
    rows = await conn.fetch(
        "SELECT worker_id, day, count(*) AS n, array_agg(at) AS times FROM appointments WHERE active "
        "AND worker_id IS NOT NULL AND day BETWEEN $1 AND $2 AND assessment_id IS DISTINCT FROM $3 "
        "GROUP BY worker_id, day",
        first, last, exclude_assessment,
    )  # fmt: skip
    return Loads(
        {(r["worker_id"], r["day"]): r["n"] for r in rows},
        {(r["worker_id"], r["day"]): frozenset(r["times"]) for r in rows},
    )


async def lock_assignments(conn: asyncpg.Connection) -> None:
    """Assignments are made one at a time (workers cover several suites), so two never take the same worker's
    last slot; held to the end of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('referral-assignments'))")

"""Required assessments in the referral database: each as a versioned document with the columns queries need,
its appointments (workers' loads, inboxes, the unassigned queue), the notices served, the attendances (K4) and
the clinical notes (A8)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dipflow.errors import ConcurrentChange
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_referral.adapters import workers
from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    Outcome,
    RequiredAssessment,
    Status,
    failure_rule,
    failure_wording,
    holds_slots,
)
from dipflow_referral.domain.events import AttendanceRecorded, FailureNotified


@dataclass(frozen=True)
class Loaded:
    assessment: RequiredAssessment
    version: int
    area: str


@dataclass(frozen=True)
class Waiting:
    """An appointment of an assessment, waiting to be held."""

    assessment_id: str
    kind: Kind


@dataclass(frozen=True)
class Note:
    written_by: str
    written_at: datetime
    note: str


@dataclass(frozen=True)
class Notice:
    form: str
    served_at: datetime
    text: str


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _appointment_doc(a: Appointment | None) -> dict[str, Any] | None:
    return None if a is None else {"at": a.at.isoformat(), "place": a.place, "worker_id": a.worker_id}


def _appointment(doc: dict[str, Any] | None) -> Appointment | None:
    return (
        None
        if doc is None
        else Appointment(datetime.fromisoformat(doc["at"]), doc["place"], doc["worker_id"])
    )


def _failure_doc(f: FailureNotified) -> dict[str, Any]:
    return {
        "kind": str(f.kind),
        "outcome": str(f.outcome),
        "good_cause": f.good_cause,
        "appointment_at": f.appointment_at.isoformat(),
        "place": f.place,
        "worker_id": f.worker_id,
        "imposed_at": _t(f.imposed_at),
        "notice": f.requirement_notice,
        "follow_up_ended": f.follow_up_ended,
        "offence": f.offence,
        "what": f.what,
        "at": f.at.isoformat(),
    }


def _failure(doc: dict[str, Any]) -> FailureNotified:
    """A failure as stored; one stored before its time was kept is dated by its appointment."""
    kind, outcome = Kind(doc["kind"]), Outcome(doc["outcome"])
    appointment_at = datetime.fromisoformat(doc["appointment_at"])
    return FailureNotified(
        at=_dt(doc.get("at")) or appointment_at,
        rule_ids=(failure_rule(kind),),
        kind=kind,
        outcome=outcome,
        good_cause=doc["good_cause"],
        appointment_at=appointment_at,
        place=doc["place"],
        worker_id=doc["worker_id"],
        imposed_at=_dt(doc["imposed_at"]),
        requirement_notice=doc["notice"],
        follow_up_ended=doc["follow_up_ended"],
        offence=doc["offence"],
        what=doc.get("what") or failure_wording(kind, outcome),
    )


def to_doc(a: RequiredAssessment) -> dict[str, Any]:
    return {
        "case_id": a.case_id,
        "person_id": a.person_id,
        "detention_id": a.detention_id,
        "suite": a.suite,
        "home_area": a.home_area,
        "positive_drugs": sorted(a.positive_drugs),
        "result_at": a.result_at.isoformat(),
        "disputed": a.disputed,
        "follow_up_notified": a.follow_up_notified,
        "status": str(a.status),
        "initial": _appointment_doc(a.initial),
        "follow_up": _appointment_doc(a.follow_up),
        "follow_up_imposed": a.follow_up_imposed,
        "imposed_at": _t(a.imposed_at),
        "released_at": _t(a.released_at),
        "ended_reason": a.ended_reason,
        "needs_new_notice": a.needs_new_notice,
        "failures": [_failure_doc(f) for f in a.failures],
        "entered_treatment_at": _t(a.entered_treatment_at),
        "prosecution_dropped": a.prosecution_dropped,
        "earliest_day": a.earliest_day.isoformat() if a.earliest_day else None,
        "dispatched_at": _t(a.dispatched_at),
        "attended": list(a.attended),
    }


def from_doc(d: dict[str, Any]) -> RequiredAssessment:
    result_at = datetime.fromisoformat(d["result_at"])
    return RequiredAssessment(
        case_id=d["case_id"],
        person_id=d["person_id"],
        detention_id=d["detention_id"],
        suite=d["suite"],
        home_area=d["home_area"],
        positive_drugs=set(d["positive_drugs"]),
        result_at=result_at,
        disputed=d["disputed"],
        follow_up_notified=d["follow_up_notified"],
        status=Status(d["status"]),
        initial=_appointment(d["initial"]),
        follow_up=_appointment(d["follow_up"]),
        follow_up_imposed=d["follow_up_imposed"],
        imposed_at=_dt(d["imposed_at"]),
        released_at=_dt(d["released_at"]),
        ended_reason=d["ended_reason"],
        needs_new_notice=d["needs_new_notice"],
        failures=[_failure(f) for f in d["failures"]],
        entered_treatment_at=_dt(d["entered_treatment_at"]),
        prosecution_dropped=d["prosecution_dropped"],
        earliest_day=date.fromisoformat(d["earliest_day"]) if d.get("earliest_day") else None,
        dispatched_at=_dt(d.get("dispatched_at")),
        attended=list(d.get("attended", [])),
    )


def _ahead(detention_id: str) -> tuple[str, str]:
    return ("assessment of detention", detention_id)


async def read_ahead(uow: UnitOfWork, detention_ids: Collection[str]) -> None:
    """The assessments of ``detention_ids`` read and locked at once, in id order, for this transaction's
    :func:`load` by detention (one statement for a consumer's batch instead of one per fact); a detention
    without one is known to have none until :func:`insert` adds it (only the custody-events consumer does, and
    a detention's facts share its person's partition). Kept as this transaction saves them."""
    wanted = sorted({d for d in detention_ids if _ahead(d) not in uow.memo})
    if not wanted:
        return
    rows = await uow.conn.fetch(
        "SELECT detention_id, state, version, area FROM assessments WHERE detention_id = ANY($1::text[]) "
        "ORDER BY assessment_id FOR UPDATE",
        wanted,
    )
    found = {r["detention_id"]: (r["state"], r["version"], r["area"]) for r in rows}
    for detention_id in wanted:
        uow.memo[_ahead(detention_id)] = found.get(detention_id)


async def lock(uow: UnitOfWork, assessment_ids: Collection[str]) -> None:
    """The assessments locked at once, in id order, as :func:`read_ahead` locks a consumer's batch: a
    transaction that locks several (a re-slot) does so before it takes the assignment lock, as a batch does, so
    the two wait for each other instead of deadlocking."""
    await uow.conn.execute(
        "SELECT 1 FROM assessments WHERE assessment_id = ANY($1::text[]) ORDER BY assessment_id FOR UPDATE",
        sorted(set(assessment_ids)),
    )


def _upsert_appointments(source: str, joined: str, first: int) -> str:
    """The statement writing a document's appointments (see :func:`_appointments`) from parameters ``first``
    on, for the assessment ``source`` (of the rows ``joined``)."""
    active, kinds, workers, times, days, places = (f"${n}" for n in range(first, first + 6))
    return f"""
INSERT INTO appointments (assessment_id, kind, worker_id, at, day, place, active)
SELECT {source}, k, w, t, d, p, {active} FROM {joined}
    unnest({kinds}::text[], {workers}::text[], {times}::timestamptz[], {days}::date[], {places}::text[])
    AS u(k, w, t, d, p)
ON CONFLICT (assessment_id, kind) DO UPDATE SET
    worker_id = EXCLUDED.worker_id, at = EXCLUDED.at, day = EXCLUDED.day, place = EXCLUDED.place,
    active = EXCLUDED.active
"""


_INSERT = (
    "WITH assessment AS (INSERT INTO assessments (assessment_id, detention_id, person_id, suite, area, status, "
    "state) VALUES ($1, $2, $3, $4, $5, $6, $7))" + _upsert_appointments("$1", "", 8)
)
_SAVE = (
    "WITH saved AS (UPDATE assessments SET state = $2, status = $3, version = version + 1, updated_at = now() "
    "WHERE assessment_id = $1 AND version = $4 RETURNING assessment_id), synced AS ("
    + _upsert_appointments("s.assessment_id", "saved AS s,", 5)
    + ") SELECT count(*) FROM saved"
)
_SAVE_HELD = (
    "WITH saved AS (UPDATE assessments SET state = $2, status = $3, version = $4, updated_at = now() "
    "WHERE assessment_id = $1 RETURNING assessment_id)"
    + _upsert_appointments("s.assessment_id", "saved AS s,", 5)
)
"""A save of an assessment this transaction holds locked (read ahead, or inserted by it): at its next version."""


def _appointments(a: RequiredAssessment) -> tuple[Any, ...]:
    """The appointments table's columns for the document's appointments (loads, inboxes, unassigned queue),
    written with the document in one statement."""
    held = [
        (kind, x) for kind, x in ((Kind.initial, a.initial), (Kind.follow_up, a.follow_up)) if x is not None
    ]
    return (
        a.holds_slots,
        [str(kind) for kind, _ in held],
        [x.worker_id for _, x in held],
        [x.at for _, x in held],
        [london_day(x.at) for _, x in held],
        [x.place for _, x in held],
    )


def _held(doc: dict[str, Any]) -> list[workers.Held]:
    """The appointments of a stored document that count towards their workers' loads (see
    :func:`_appointments`)."""
    if not holds_slots(Status(doc["status"])):
        return []
    held = []
    for x in (doc["initial"], doc["follow_up"]):
        if x is not None and x["worker_id"] is not None:
            at = datetime.fromisoformat(x["at"])
            held.append((x["worker_id"], london_day(at), at))
    return held


async def insert(uow: UnitOfWork, a: RequiredAssessment, area: str) -> None:
    """The new assessment and its appointments, in one statement; known to this transaction's :func:`load` by
    detention from now on. In a consumer's batch it is written at the batch's end, before the saves of it that
    follow (only the last of those is written) and the notices and attendances they record; at once otherwise."""
    doc = to_doc(a)
    await uow.writes.execute_last(
        _ahead(a.detention_id),
        _INSERT,
        a.case_id,
        a.detention_id,
        a.person_id,
        a.suite,
        area,
        str(a.status),
        doc,
        *_appointments(a),
        kind="insert",
    )
    uow.memo[_ahead(a.detention_id)] = (doc, 1, area)
    workers.appointments_changed(uow, [], _held(doc))


async def load(
    uow: UnitOfWork, *, assessment_id: str | None = None, detention_id: str | None = None
) -> Loaded | None:
    """The assessment (by its id or its detention's), its version and area, locked for update: by detention,
    as this transaction read it ahead (:func:`read_ahead`) and last saved it, when it did."""
    if assessment_id is None and detention_id is not None and _ahead(detention_id) in uow.memo:
        held = uow.memo[_ahead(detention_id)]
        return None if held is None else Loaded(from_doc(held[0]), held[1], held[2])
    await uow.flush()  # what this batch queued for these tables
    row = await uow.conn.fetchrow(
        "SELECT state, version, area FROM assessments WHERE assessment_id = $1 OR detention_id = $2 FOR UPDATE",
        assessment_id,
        detention_id,
    )
    return None if row is None else Loaded(from_doc(row["state"]), row["version"], row["area"])


async def peek(uow: UnitOfWork, assessment_id: str) -> tuple[RequiredAssessment, str] | None:
    """The assessment and its area, without a lock (to decide who may act on it)."""
    await uow.flush()  # what this batch queued for these tables
    row = await uow.conn.fetchrow(
        "SELECT state, area FROM assessments WHERE assessment_id = $1", assessment_id
    )
    return None if row is None else (from_doc(row["state"]), row["area"])


async def of_detention(uow: UnitOfWork, detention_id: str) -> RequiredAssessment | None:
    await uow.flush()  # what this batch queued for these tables
    row = await uow.conn.fetchrow("SELECT state FROM assessments WHERE detention_id = $1", detention_id)
    return None if row is None else from_doc(row["state"])


async def in_area(uow: UnitOfWork, area: str, status: Status | None) -> list[tuple[RequiredAssessment, str]]:
    """The area's newest 500 assessments (of ``status`` when given), with their area."""
    await uow.flush()  # what this batch queued for these tables
    rows = await uow.conn.fetch(
        "SELECT state, area FROM assessments WHERE area = $1 AND ($2::text IS NULL OR status = $2) "
        "ORDER BY created_at DESC LIMIT 500",
        area,
        str(status) if status else None,
    )
    return [(from_doc(r["state"]), r["area"]) for r in rows]


async def save(uow: UnitOfWork, a: RequiredAssessment, version: int) -> None:
    """The assessment at ``version`` + 1 and its appointments, in one statement; ConcurrentChange (and nothing
    written) when another transaction saved it since ``version``. One this transaction holds locked (read ahead
    or inserted) in a consumer's batch is kept in the memo and written once, at the batch's end."""
    doc = to_doc(a)
    key = _ahead(a.detention_id)
    ahead = uow.memo.get(key)
    if ahead is not None and uow.writes.batched:
        if ahead[1] != version:
            raise ConcurrentChange(f"assessment {a.case_id} changed concurrently")
        uow.memo[key] = (doc, version + 1, ahead[2])
        workers.appointments_changed(uow, _held(ahead[0]), _held(doc))
        await uow.writes.execute_last(
            key, _SAVE_HELD, a.case_id, doc, str(a.status), version + 1, *_appointments(a), kind="save"
        )
        return
    await uow.flush()
    saved = await uow.conn.fetchval(_SAVE, a.case_id, doc, str(a.status), version, *_appointments(a))
    if saved != 1:
        raise ConcurrentChange(f"assessment {a.case_id} changed concurrently")
    held = uow.memo.pop(_ahead(a.detention_id), None)
    if held is not None and held[1] == version:
        uow.memo[_ahead(a.detention_id)] = (doc, version + 1, held[2])
        workers.appointments_changed(uow, _held(held[0]), _held(doc))
    else:
        workers.forget_loads(uow)


async def held_by(uow: UnitOfWork, worker_id: str, first: date, last: date) -> list[Waiting]:
    """A9: the worker's appointments from ``first`` to ``last`` still to be held, by time."""
    await uow.flush()  # what this batch queued for these tables
    rows = await uow.conn.fetch(
        "SELECT p.assessment_id, p.kind FROM appointments p JOIN assessments a USING (assessment_id) "
        "WHERE p.worker_id = $1 AND p.active AND p.day BETWEEN $2 AND $3 AND ((p.kind = 'initial' AND "
        "a.status = ANY($4::text[])) OR (p.kind = 'follow_up' AND a.status = $5)) ORDER BY p.at",
        worker_id,
        first,
        last,
        [str(Status.proposed), str(Status.imposed)],
        str(Status.follow_up_set),
    )
    return [Waiting(r["assessment_id"], Kind(r["kind"])) for r in rows]


async def queued_at(uow: UnitOfWork, suites: list[str]) -> list[Waiting]:
    """A9: the unassigned appointments at ``suites`` of open assessments, by time (also those whose day passed)."""
    await uow.flush()  # what this batch queued for these tables
    rows = await uow.conn.fetch(
        "SELECT p.assessment_id, p.kind FROM appointments p JOIN assessments a USING (assessment_id) "
        "WHERE p.worker_id IS NULL AND p.active AND a.suite = ANY($1::text[]) "
        "AND a.status = ANY($2::text[]) ORDER BY p.at",
        suites,
        [str(Status.proposed), str(Status.imposed), str(Status.follow_up_set)],
    )
    return [Waiting(r["assessment_id"], Kind(r["kind"])) for r in rows]


async def serve_notice(uow: UnitOfWork, assessment_id: str, form: str, at: datetime, text: str) -> None:
    """A notice served: in a batch, written after the assessment it serves (see :func:`insert`)."""
    await uow.writes.execute(
        "INSERT INTO notices (assessment_id, form, served_at, text) VALUES ($1, $2, $3, $4)",
        assessment_id,
        form,
        at,
        text,
    )


async def notices(uow: UnitOfWork, assessment_id: str) -> list[Notice]:
    rows = await uow.conn.fetch(
        "SELECT form, served_at, text FROM notices WHERE assessment_id = $1 ORDER BY id", assessment_id
    )
    return [Notice(r["form"], r["served_at"], r["text"]) for r in rows]


async def record_attendance(uow: UnitOfWork, assessment_id: str, event: AttendanceRecorded) -> None:
    """RA3, kept for K4 (attendances and failures by month): in a batch, written after the assessment."""
    await uow.writes.execute(
        "INSERT INTO attendances (assessment_id, kind, outcome, good_cause, recorded_at) VALUES ($1, $2, $3, $4, $5)",
        assessment_id,
        str(event.kind),
        str(event.outcome),
        event.good_cause,
        event.at,
    )


async def add_note(uow: UnitOfWork, assessment_id: str, by: str, note: str) -> None:
    await uow.conn.execute(
        "INSERT INTO clinical_notes (assessment_id, written_by, note) VALUES ($1, $2, $3)",
        assessment_id,
        by,
        note,
    )


async def notes(uow: UnitOfWork, assessment_id: str) -> list[Note]:
    rows = await uow.conn.fetch(
        "SELECT written_by, written_at, note FROM clinical_notes WHERE assessment_id = $1 ORDER BY id",
        assessment_id,
    )
    return [Note(r["written_by"], r["written_at"], r["note"]) for r in rows]

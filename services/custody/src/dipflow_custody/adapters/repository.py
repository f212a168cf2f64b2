"""Detentions in the custody database: the state machine's state as a versioned document, with the columns
queries need (suite, area, person, booking and release times)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from dipflow.errors import ConcurrentChange
from dipflow.events.timers import lock_or_try_later
from dipflow.uow import UnitOfWork
from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.detention import (
    Authorisation,
    Detention,
    Disposal,
    DrugResult,
    OffenceDisposal,
    ReleaseKind,
    ResultValue,
)
from dipflow_custody.domain.eligibility import InspectorDecision

__all__ = ["ConcurrentChange", "from_doc", "insert", "load", "save", "to_doc"]


def _dt(v: datetime | str | None) -> datetime | None:
    """A time of a document: a datetime as :func:`to_doc` leaves it (and this transaction's memo keeps it), or
    the ISO 8601 text with its offset that the jsonb column holds (orjson writes a datetime so)."""
    if isinstance(v, datetime):
        return v
    return datetime.fromisoformat(v) if v else None


def _at(v: datetime | str) -> datetime:
    at = _dt(v)
    assert at is not None
    return at


def _authorisation_doc(a: Authorisation | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "decision": str(a.decision),
        "by": a.by,
        "rank": a.rank,
        "grounds": a.grounds,
        "at": a.at,
        "oral": a.oral,
        "written_confirmed_at": a.written_confirmed_at,
        "written_confirmed_by": a.written_confirmed_by,
        "person_told_at": a.person_told_at,
        "written_confirmation": a.written_confirmation,
    }


def _authorisation(doc: dict[str, Any], booked_in_at: datetime) -> Authorisation | None:
    a = doc.get("authorisation")
    if a is not None:
        return Authorisation(
            InspectorDecision(a["decision"]),
            a["by"],
            a["rank"],
            a["grounds"],
            _at(a["at"]),
            a["oral"],
            _dt(a["written_confirmed_at"]),
            a["written_confirmed_by"],
            _dt(a["person_told_at"]),
        )
    if doc.get("inspector"):  # recorded before the authorisation was kept whole
        return Authorisation(InspectorDecision(doc["inspector"]), "not recorded", "", "", booked_in_at, False)
    return None


def to_doc(d: Detention) -> dict[str, Any]:
    return {
        "detention_id": d.detention_id,
        "person_id": d.person_id,
        "date_of_birth": d.date_of_birth.isoformat(),
        "home_area": d.home_area,
        "suite": d.suite,
        "arrested_at": d.arrested_at,
        "booked_in_at": d.booked_in_at,
        "is_ppo": d.is_ppo,
        "offences": [
            {
                "code": o.code,
                "offence_date": o.offence_date.isoformat(),
                "attempt": o.attempt,
                "drug": o.drug,
                "drug_class": o.drug_class,
                "added_at": o.added_at,
                "statute": o.statute,
                "section": o.section,
                "title": o.title,
                "in_catalogue": o.in_catalogue,
                "arrest_power": o.arrest_power,
                "wording": o.wording,
                "system_code": o.system_code,
            }
            for o in d.offences
        ],
        "charged_at": d.charged_at,
        "charged_codes": sorted(d.charged_codes),
        "authorisation": _authorisation_doc(d.authorisation),
        "adult_arrived_at": d.adult_arrived_at,
        "warned_at": d.warned_at,
        "sample_taken_at": d.sample_taken_at,
        "sample_type": d.sample_type,
        "results": {
            k: {
                "drug": r.drug,
                "value": str(r.value),
                "medication_declared": r.medication_declared,
                "disputed": r.disputed,
                "accepts_heroin_use": r.accepts_heroin_use,
            }
            for k, r in d.results.items()
        },
        "refused_at": d.refused_at,
        "released_at": d.released_at,
        "release_kind": str(d.release_kind) if d.release_kind else None,
        "sample_window_closed": d.sample_window_closed,
        "confirmations": {k: str(v) for k, v in d.confirmations.items()},
        "disposals": {k: {"disposal": str(v.disposal), "at": v.at} for k, v in d.disposals.items()},
        "dispatched_at": d.dispatched_at,
        "confirmation_due_at": d.confirmation_due_at,
        "confirmation_overdue": d.confirmation_overdue,
        "ra1_to_serve": sorted(d.ra1_to_serve),
        "hold_timers": None if d.hold_timers is None else dict(d.hold_timers),
    }


def from_doc(doc: dict[str, Any]) -> Detention:
    arrested = _dt(doc["arrested_at"])
    booked = _dt(doc["booked_in_at"])
    assert arrested is not None and booked is not None
    adult_at = _dt(doc.get("adult_arrived_at")) or (booked if doc.get("appropriate_adult_present") else None)
    return Detention(
        detention_id=doc["detention_id"],
        person_id=doc["person_id"],
        date_of_birth=date.fromisoformat(doc["date_of_birth"]),
        home_area=doc["home_area"],
        suite=doc["suite"],
        arrested_at=arrested,
        booked_in_at=booked,
        is_ppo=doc["is_ppo"],
        offences=[
            Offence(
                o["code"],
                date.fromisoformat(o["offence_date"]),
                o["attempt"],
                o["drug"],
                o["drug_class"],
                _dt(o.get("added_at")),
                # offences recorded before the provision was kept are named by their catalogue code
                statute=o.get("statute", ""),
                section=o.get("section", ""),
                title=o.get("title", ""),
                in_catalogue=o.get("in_catalogue", True),
                arrest_power=o.get("arrest_power", False),
                wording=o.get("wording"),
                system_code=o.get("system_code"),
            )
            for o in doc["offences"]
        ],
        charged_at=_dt(doc["charged_at"]),
        charged_codes=set(doc["charged_codes"]),
        authorisation=_authorisation(doc, booked),
        adult_arrived_at=adult_at,
        warned_at=_dt(doc["warned_at"]),
        sample_taken_at=_dt(doc["sample_taken_at"]),
        sample_type=doc["sample_type"],
        results={
            k: DrugResult(
                r["drug"],
                ResultValue(r["value"]),
                r["medication_declared"],
                r["disputed"],
                r["accepts_heroin_use"],
            )
            for k, r in doc["results"].items()
        },
        refused_at=_dt(doc["refused_at"]),
        released_at=_dt(doc["released_at"]),
        release_kind=ReleaseKind(doc["release_kind"]) if doc["release_kind"] else None,
        sample_window_closed=doc.get("sample_window_closed"),
        confirmations={k: ResultValue(v) for k, v in doc.get("confirmations", {}).items()},
        disposals={
            k: OffenceDisposal(Disposal(v["disposal"]), _at(v["at"]))
            for k, v in doc.get("disposals", {}).items()
        },
        dispatched_at=_dt(doc.get("dispatched_at")),
        confirmation_due_at=_dt(doc.get("confirmation_due_at")),
        confirmation_overdue=doc.get("confirmation_overdue", False),
        ra1_to_serve=set(doc.get("ra1_to_serve", [])),
        hold_timers=_hold_timers(doc.get("hold_timers")),
    )


def _hold_timers(timers: dict[str, datetime | str] | None) -> dict[str, datetime] | None:
    """None for a detention saved before its timers were kept: not known."""
    return None if timers is None else {kind: _at(due) for kind, due in timers.items()}


_INSERT = (
    "INSERT INTO detentions (detention_id, person_id, name, suite, force, area, state, booked_in_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
)


async def insert(uow: UnitOfWork, d: Detention, name: str, force: str, area: str) -> None:
    """A new detention (version 1), known to this transaction's :func:`load` from now on: a batch that books
    a person in and acts on the detention reads it from here, not from the database. In a consumer's batch the
    row is written at the batch's end, before the saves of it that follow (its id comes from the command's
    event id, which the inbox admits once); at once otherwise."""
    doc = to_doc(d)
    key = _read_ahead(d.detention_id)
    args = (d.detention_id, d.person_id, name, d.suite, force, area, doc, d.booked_in_at)
    await uow.writes.execute_last(key, _INSERT, *args, kind="insert")
    uow.memo[key] = (doc, 1, area)


def _read_ahead(detention_id: str) -> tuple[str, str]:
    return ("detention", detention_id)


async def read_ahead(uow: UnitOfWork, detention_ids: Collection[str]) -> None:
    """Read and lock the detentions at once, in id order, for this transaction's :func:`load` (one statement
    for a consumer's batch instead of one per command)."""
    rows = await uow.conn.fetch(
        "SELECT detention_id, state, version, area FROM detentions WHERE detention_id = ANY($1::text[]) "
        "ORDER BY detention_id FOR UPDATE",
        sorted(set(detention_ids)),
    )
    for r in rows:
        uow.memo[_read_ahead(r["detention_id"])] = (r["state"], r["version"], r["area"])


async def load(uow: UnitOfWork, detention_id: str, *, lock: bool = True) -> tuple[Detention, int, str] | None:
    """The detention, its version and its suite's area; locked for the rest of the transaction unless
    ``lock`` is false (one read ahead is locked already and as this transaction last saved it)."""
    ahead = uow.memo.get(_read_ahead(detention_id))
    if ahead is not None:
        state, version, area = ahead
        return from_doc(state), version, area
    row = await uow.conn.fetchrow(
        "SELECT state, version, area FROM detentions WHERE detention_id = $1"
        + (" FOR UPDATE" if lock else ""),
        detention_id,
    )
    if row is None:
        return None
    return from_doc(row["state"]), row["version"], row["area"]


async def load_for_timer(uow: UnitOfWork, detention_id: str) -> tuple[Detention, int] | None:
    """The detention locked without waiting (TryLater when a command holds it: it may be rescheduling the
    very deadline that is firing)."""
    row = await lock_or_try_later(
        uow.conn,
        "SELECT state, version FROM detentions WHERE detention_id = $1 FOR UPDATE NOWAIT",
        detention_id,
    )
    return None if row is None else (from_doc(row["state"]), row["version"])


async def area_of(uow: UnitOfWork, detention_id: str) -> str | None:
    area: str | None = await uow.conn.fetchval(
        "SELECT area FROM detentions WHERE detention_id = $1", detention_id
    )
    return area


async def open_areas_of_person(uow: UnitOfWork, person_id: str) -> list[str]:
    """The areas of the suites where the person is detained now."""
    await uow.flush()  # detentions this batch saved
    rows = await uow.conn.fetch(
        "SELECT DISTINCT area FROM detentions WHERE person_id = $1 AND released_at IS NULL", person_id
    )
    return [r["area"] for r in rows]


async def save(uow: UnitOfWork, d: Detention, version: int) -> None:
    """Version ``version`` saved as the next. One read ahead in a consumer's batch (locked by this
    transaction, so nobody else can change it) is kept in the memo and written once, at the batch's end."""
    doc = to_doc(d)
    key = _read_ahead(d.detention_id)
    ahead = uow.memo.get(key)
    if ahead is not None and uow.writes.batched:
        if ahead[1] != version:
            raise ConcurrentChange(d.detention_id)
        uow.memo[key] = (doc, version + 1, ahead[2])
        await uow.writes.execute_last(
            key,
            "UPDATE detentions SET state = $2, version = $3, released_at = $4 WHERE detention_id = $1",
            d.detention_id,
            doc,
            version + 1,
            d.released_at,
        )
        return
    status = await uow.conn.execute(
        "UPDATE detentions SET state = $2, version = version + 1, released_at = $3 "
        "WHERE detention_id = $1 AND version = $4",
        d.detention_id,
        doc,
        d.released_at,
        version,
    )
    if not status.endswith(" 1"):
        raise ConcurrentChange(d.detention_id)
    if ahead is not None:
        uow.memo[key] = (doc, version + 1, ahead[2])


async def name_of(uow: UnitOfWork, detention_id: str) -> str | None:
    """The name the person was booked in under."""
    name: str | None = await uow.conn.fetchval(
        "SELECT name FROM detentions WHERE detention_id = $1", detention_id
    )
    return name


async def in_custody_at(uow: UnitOfWork, suite: str) -> list[tuple[Detention, str]]:
    """Everyone in custody at ``suite`` now (booked in, not released), earliest booked first, with their name."""
    await uow.flush()  # detentions this batch saved
    rows = await uow.conn.fetch(
        "SELECT state, name FROM detentions WHERE suite = $1 AND released_at IS NULL ORDER BY booked_in_at",
        suite,
    )
    return [(from_doc(r["state"]), r["name"]) for r in rows]


async def with_open_items(uow: UnitOfWork, suite: str) -> list[tuple[Detention, str]]:
    """Detentions at ``suite`` that may owe something: still in custody, an oral authorisation awaiting
    written confirmation, or a confirmatory result overdue; with their suite's area."""
    await uow.flush()  # detentions this batch saved
    rows = await uow.conn.fetch(
        """
        SELECT state, area FROM detentions
        WHERE suite = $1 AND (
            released_at IS NULL
            OR state->'authorisation'->>'written_confirmation' = 'pending'
            OR (state->>'confirmation_overdue')::boolean
        )
        ORDER BY booked_in_at
        """,
        suite,
    )
    return [(from_doc(r["state"]), r["area"]) for r in rows]

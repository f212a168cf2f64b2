"""Detentions and reference data in the custody database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from dipflow.db.appends import batch_memo
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
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod, Notified, notified_on


class ConcurrentChange(Exception):
    """The detention changed since it was loaded; the caller retries."""


def _t(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def _authorisation_doc(a: Authorisation | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "decision": str(a.decision),
        "by": a.by,
        "rank": a.rank,
        "grounds": a.grounds,
        "at": a.at.isoformat(),
        "oral": a.oral,
        "written_confirmed_at": _t(a.written_confirmed_at),
        "written_confirmed_by": a.written_confirmed_by,
        "person_told_at": _t(a.person_told_at),
        "written_confirmation": a.written_confirmation,
    }


def _authorisation(doc: dict[str, Any], booked_in_at: datetime) -> Authorisation | None:
    a = doc.get("authorisation")
    if a is not None:
        at = _dt(a["at"])
        assert at is not None
        return Authorisation(
            InspectorDecision(a["decision"]), a["by"], a["rank"], a["grounds"], at, a["oral"],
            _dt(a["written_confirmed_at"]), a["written_confirmed_by"], _dt(a["person_told_at"]),
        )  # fmt: skip
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
        "arrested_at": _t(d.arrested_at),
        "booked_in_at": _t(d.booked_in_at),
        "is_ppo": d.is_ppo,
        "offences": [
            {
                "code": o.code,
                "offence_date": o.offence_date.isoformat(),
                "attempt": o.attempt,
                "drug": o.drug,
                "drug_class": o.drug_class,
                "added_at": _t(o.added_at),
            }
            for o in d.offences
        ],
        "charged_at": _t(d.charged_at),
        "charged_codes": sorted(d.charged_codes),
        "authorisation": _authorisation_doc(d.authorisation),
        "adult_arrived_at": _t(d.adult_arrived_at),
        "warned_at": _t(d.warned_at),
        "sample_taken_at": _t(d.sample_taken_at),
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
        "refused_at": _t(d.refused_at),
        "released_at": _t(d.released_at),
        "release_kind": str(d.release_kind) if d.release_kind else None,
        "sample_window_closed": d.sample_window_closed,
        "confirmations": {k: str(v) for k, v in d.confirmations.items()},
        "disposals": {
            k: {"disposal": str(v.disposal), "at": v.at.isoformat()} for k, v in d.disposals.items()
        },
        "dispatched_at": _t(d.dispatched_at),
        "confirmation_due_at": _t(d.confirmation_due_at),
        "confirmation_overdue": d.confirmation_overdue,
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
            k: OffenceDisposal(Disposal(v["disposal"]), datetime.fromisoformat(v["at"]))
            for k, v in doc.get("disposals", {}).items()
        },
        dispatched_at=_dt(doc.get("dispatched_at")),
        confirmation_due_at=_dt(doc.get("confirmation_due_at")),
        confirmation_overdue=doc.get("confirmation_overdue", False),
    )


async def insert_detention(conn: asyncpg.Connection, d: Detention, name: str, force: str, area: str) -> None:
    await conn.execute(
        "INSERT INTO detentions (detention_id, person_id, name, suite, force, area, state, booked_in_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        d.detention_id, d.person_id, name, d.suite, force, area, to_doc(d), d.booked_in_at,
    )  # fmt: skip


async def load_detention(conn: asyncpg.Connection, detention_id: str) -> tuple[Detention, int, str] | None:
    """The detention, its version and its suite's area; locked for the rest of the transaction."""
    row = await conn.fetchrow(
        "SELECT state, version, area FROM detentions WHERE detention_id = $1 FOR UPDATE", detention_id
    )
    if row is None:
        return None
    return from_doc(row["state"]), row["version"], row["area"]


async def detention_area(conn: asyncpg.Connection, detention_id: str) -> str | None:
    area: str | None = await conn.fetchval(
        "SELECT area FROM detentions WHERE detention_id = $1", detention_id
    )
    return area


async def open_detention_areas(conn: asyncpg.Connection, person_id: str) -> list[str]:
    """The areas of the suites where the person is detained now."""
    rows = await conn.fetch(
        "SELECT DISTINCT area FROM detentions WHERE person_id = $1 AND released_at IS NULL", person_id
    )
    return [r["area"] for r in rows]


async def ppo_borough(conn: asyncpg.Connection, person_id: str) -> str | None:
    borough: str | None = await conn.fetchval(
        "SELECT borough FROM ppo_register WHERE person_id = $1", person_id
    )
    return borough


async def save_detention(conn: asyncpg.Connection, d: Detention, version: int) -> None:
    status = await conn.execute(
        "UPDATE detentions SET state = $2, version = version + 1, released_at = $3 "
        "WHERE detention_id = $1 AND version = $4",
        d.detention_id, to_doc(d), d.released_at, version,
    )  # fmt: skip
    if not status.endswith(" 1"):
        raise ConcurrentChange(d.detention_id)


async def suite_force_and_area(conn: asyncpg.Connection, suite: str) -> tuple[str, str] | None:
    memo = batch_memo(conn)
    if memo is not None and ("suite", suite) in memo:
        cached: tuple[str, str] | None = memo[("suite", suite)]
        return cached
    row = await conn.fetchrow("SELECT force, area FROM suites WHERE suite = $1", suite)
    place = (row["force"], row["area"]) if row else None
    if memo is not None:
        memo[("suite", suite)] = place
    return place


async def known_suites(conn: asyncpg.Connection) -> list[str]:
    return [r["suite"] for r in await conn.fetch("SELECT suite FROM suites ORDER BY suite")]


async def station_notified(conn: asyncpg.Connection, place: str, on: date) -> Notified:
    """What ``place`` was notified of on ``on``; the periods are read once per consumer batch."""
    memo = batch_memo(conn)
    periods: list[NotificationPeriod] | None = (
        memo.get(("notifications", place)) if memo is not None else None
    )
    if periods is None:
        rows = await conn.fetch(
            "SELECT place, kind, valid_from, valid_to FROM notifications WHERE place = $1", place
        )
        periods = [
            NotificationPeriod(r["place"], NotificationKind(r["kind"]), r["valid_from"], r["valid_to"])
            for r in rows
        ]
        if memo is not None:
            memo[("notifications", place)] = periods
    return notified_on(periods, place, on)


async def is_ppo(conn: asyncpg.Connection, person_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM ppo_register WHERE person_id = $1", person_id))


async def upsert_ppo(conn: asyncpg.Connection, person_id: str, borough: str) -> None:
    await conn.execute(
        "INSERT INTO ppo_register (person_id, borough) VALUES ($1, $2) "
        "ON CONFLICT (person_id) DO UPDATE SET borough = EXCLUDED.borough, updated_at = now()",
        person_id,
        borough,
    )


async def remove_ppo(conn: asyncpg.Connection, person_id: str) -> None:
    await conn.execute("DELETE FROM ppo_register WHERE person_id = $1", person_id)


async def list_notifications(conn: asyncpg.Connection, place: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, place, kind, valid_from, valid_to FROM notifications "
        "WHERE ($1::text IS NULL OR place = $1) ORDER BY place, kind, valid_from",
        place,
    )
    return [dict(r) for r in rows]


async def add_notification(conn: asyncpg.Connection, period: NotificationPeriod) -> int | None:
    """Insert unless it overlaps a period of the same place and kind; returns the new id, or None."""
    overlap = await conn.fetchval(
        "SELECT 1 FROM notifications WHERE place = $1 AND kind = $2 "
        "AND daterange(valid_from, valid_to, '[]') && daterange($3::date, $4::date, '[]')",
        period.place, str(period.kind), period.valid_from, period.valid_to,
    )  # fmt: skip
    if overlap:
        return None
    return int(
        await conn.fetchval(
            "INSERT INTO notifications (place, kind, valid_from, valid_to) VALUES ($1, $2, $3, $4) RETURNING id",
            period.place,
            str(period.kind),
            period.valid_from,
            period.valid_to,
        )
    )


async def end_notification(conn: asyncpg.Connection, notification_id: int, valid_to: date) -> bool:
    status = await conn.execute(
        "UPDATE notifications SET valid_to = $2 WHERE id = $1 AND valid_from <= $2", notification_id, valid_to
    )
    return bool(status.endswith(" 1"))


async def notification_start(conn: asyncpg.Connection, notification_id: int) -> date | None:
    start: date | None = await conn.fetchval(
        "SELECT valid_from FROM notifications WHERE id = $1", notification_id
    )
    return start


async def tests_by_suite_and_month(
    conn: asyncpg.Connection, since: date, until: date
) -> list[dict[str, Any]]:
    """K5: samples taken per suite and month (sample date in [since, until])."""
    rows = await conn.fetch(
        """
        SELECT suite, to_char(date_trunc('month', (state->>'sample_taken_at')::timestamptz AT TIME ZONE 'Europe/London'),
                              'YYYY-MM') AS month,
               count(*) AS tests
        FROM detentions
        WHERE state->>'sample_taken_at' IS NOT NULL
          AND ((state->>'sample_taken_at')::timestamptz AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
        GROUP BY 1, 2 ORDER BY 2, 1
        """,
        since,
        until,
    )
    return [dict(r) for r in rows]


async def detentions_with_open_items(conn: asyncpg.Connection, suite: str) -> list[tuple[Detention, str]]:
    """Detentions at ``suite`` that may owe something: still in custody, an oral authorisation awaiting
    written confirmation, or a confirmatory result overdue; with their suite's area."""
    rows = await conn.fetch(
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

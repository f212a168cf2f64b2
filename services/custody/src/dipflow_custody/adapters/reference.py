"""Reference data in the custody database: the versioned records of areas, custody suites, offences and drugs
(``reference_records``, nothing overwritten) and the effective-dated station and area notifications (docs/rules.md
T1, T2, A, B). A unit of work (a consumer's batch) reads the data's stamp once; what it reads it keeps in its
memo, and what was read under the same stamp by an earlier unit of work of this process it takes from there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Any

from asyncpg import Record

from dipflow.uow import UnitOfWork
from dipflow_custody.domain.catalogue import drug_from, offence_type_from
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod, Notified, notified_on
from dipflow_custody.domain.reference import Area, AreaKind, Suite, Version, in_force, latest


def _version(kind: str, row: Record) -> Version[Any]:
    body = dict(row["body"])
    value: Any
    if kind == "area":
        value = Area(row["key"], body["name"], AreaKind(body["kind"]), body["force"])
    elif kind == "suite":
        value = Suite(row["key"], body["name"], body["force"], body["borough"], body.get("address"))
    elif kind == "offence":
        value = offence_type_from({"code": row["key"], **body})
    else:
        value = drug_from({"name": row["key"], **body})
    return Version(row["effective_from"], value, row["recorded_by"])


Stamp = tuple[Any, ...]
_STAMP = ("reference", "stamp")
_READ: dict[Stamp, dict[Hashable, Any]] = {}
"""Reference data already read in this process, by the stamp it was read under (the two newest stamps)."""
_STAMP_SQL = (
    "SELECT pg_postmaster_start_time(), current_database(), 'reference_records'::regclass::oid, "
    "(SELECT coalesce(max(id), 0) FROM reference_records), (SELECT notifications FROM reference_changes)"
)


async def _stamp(uow: UnitOfWork) -> Stamp | None:
    """What identifies the reference data this unit of work reads: the server and its run, the database and the
    table, the newest record and the count of notification changes (migration 0005). None once this unit of work
    changed the data itself: its reads are its own until it commits."""
    if _STAMP not in uow.memo:
        uow.memo[_STAMP] = tuple(await uow.conn.fetchrow(_STAMP_SQL))
    stamp: Stamp | None = uow.memo[_STAMP]
    return stamp


async def _kept(uow: UnitOfWork, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
    """``read()``'s result, once per unit of work, and once per stamp in the process."""
    if key in uow.memo:
        return uow.memo[key]
    stamp = await _stamp(uow)
    kept = _READ.get(stamp, {}) if stamp is not None else {}
    if key in kept:
        found = kept[key]
    else:
        found = await read()
        if stamp is not None:
            if stamp not in _READ:
                _READ[stamp] = {}
                while len(_READ) > 2:
                    del _READ[next(iter(_READ))]
            _READ[stamp][key] = found
    uow.memo[key] = found
    return found


def _changing(uow: UnitOfWork) -> None:
    """This unit of work changes the reference data: it reads afresh from here on, and keeps nothing shared."""
    uow.memo.clear()
    uow.memo[_STAMP] = None


async def history(uow: UnitOfWork, kind: str, key: str) -> list[Version[Any]]:
    """Every version of one record, oldest first."""
    rows = await uow.conn.fetch(
        "SELECT key, effective_from, body, recorded_by FROM reference_records WHERE kind = $1 AND key = $2 "
        "ORDER BY effective_from, id",
        kind,
        key,
    )
    return [_version(kind, r) for r in rows]


async def histories(uow: UnitOfWork, kind: str) -> dict[str, list[Version[Any]]]:
    """Every record of ``kind`` with its versions, oldest first (not to be changed by the caller)."""

    async def read() -> dict[str, list[Version[Any]]]:
        rows = await uow.conn.fetch(
            "SELECT key, effective_from, body, recorded_by FROM reference_records WHERE kind = $1 "
            "ORDER BY key, effective_from, id",
            kind,
        )
        found: dict[str, list[Version[Any]]] = {}
        for row in rows:
            found.setdefault(row["key"], []).append(_version(kind, row))
        return found

    result: dict[str, list[Version[Any]]] = await _kept(uow, ("reference", kind), read)
    return result


async def record(
    uow: UnitOfWork, kind: str, key: str, effective_from: date, body: dict[str, Any], by: str
) -> int:
    """A new version of ``key`` (nothing is overwritten); the data's new version number. Changes take turns (a
    lock held to the end of the transaction), so versions are numbered in the order they commit: a reader that
    sees version n sees every change up to n, and a catalogue installed at n is never missing one of them."""
    _changing(uow)
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext('dipflow_custody.reference.change'))")
    new_id: int = await uow.conn.fetchval(
        "INSERT INTO reference_records (kind, key, effective_from, body, recorded_by) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING id",
        kind,
        key,
        effective_from,
        body,
        by,
    )
    return new_id


async def version(uow: UnitOfWork) -> int:
    """The managed data's version: it grows with every change (0 before the first)."""
    stamp = await _stamp(uow)
    if stamp is not None:
        return int(stamp[3])
    return int(await uow.conn.fetchval("SELECT coalesce(max(id), 0) FROM reference_records"))


async def has_records(uow: UnitOfWork, kind: str) -> set[str]:
    """The keys of ``kind`` that have a record."""
    return {
        r["key"]
        for r in await uow.conn.fetch("SELECT DISTINCT key FROM reference_records WHERE kind = $1", kind)
    }


async def suite_on(uow: UnitOfWork, suite: str, on: date) -> Suite | None:
    """The suite as it was on ``on`` (its borough then); its first version for any day before that (a suite
    existed before it was entered); None for a suite this service does not know."""
    versions = (await histories(uow, "suite")).get(suite, [])
    if not versions:
        return None
    found: Suite = in_force(versions, on) or versions[0].value
    return found


async def current_suite(uow: UnitOfWork, suite: str) -> Suite | None:
    versions = (await histories(uow, "suite")).get(suite, [])
    found: Suite | None = latest(versions)
    return found


async def known_suites(uow: UnitOfWork) -> list[str]:
    return sorted(await histories(uow, "suite"))


async def notified(uow: UnitOfWork, place: str, on: date) -> Notified:
    """What ``place`` (a suite or an area) was notified for on ``on``: worked out once per unit of work."""
    key = ("notified", place, on)
    if key not in uow.memo:
        uow.memo[key] = await _notified(uow, place, on)
    found: Notified = uow.memo[key]
    return found


async def _notified(uow: UnitOfWork, place: str, on: date) -> Notified:

    async def read() -> list[NotificationPeriod]:
        rows = await uow.conn.fetch(
            "SELECT place, kind, valid_from, valid_to FROM notifications WHERE place = $1", place
        )
        return [
            NotificationPeriod(r["place"], NotificationKind(r["kind"]), r["valid_from"], r["valid_to"])
            for r in rows
        ]

    return notified_on(await _kept(uow, ("notifications", place), read), place, on)


async def list_notifications(uow: UnitOfWork, place: str | None) -> list[tuple[int, NotificationPeriod]]:
    rows = await uow.conn.fetch(
        "SELECT id, place, kind, valid_from, valid_to FROM notifications "
        "WHERE ($1::text IS NULL OR place = $1) ORDER BY place, kind, valid_from",
        place,
    )
    return [
        (r["id"], NotificationPeriod(r["place"], NotificationKind(r["kind"]), r["valid_from"], r["valid_to"]))
        for r in rows
    ]


async def add_notification(uow: UnitOfWork, period: NotificationPeriod, by: str) -> int | None:
    """Insert unless it overlaps a period of the same place and kind; the new id, or None."""
    overlap = await uow.conn.fetchval(
        "SELECT 1 FROM notifications WHERE place = $1 AND kind = $2 "
        "AND daterange(valid_from, valid_to, '[]') && daterange($3::date, $4::date, '[]')",
        period.place,
        str(period.kind),
        period.valid_from,
        period.valid_to,
    )
    if overlap:
        return None
    _changing(uow)
    return int(
        await uow.conn.fetchval(
            "INSERT INTO notifications (place, kind, valid_from, valid_to, recorded_by) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id",
            period.place,
            str(period.kind),
            period.valid_from,
            period.valid_to,
            by,
        )
    )


async def end_notification(uow: UnitOfWork, notification_id: int, valid_to: date, by: str) -> str | None:
    """The place of the notification now ended on ``valid_to``; None if there is none or it starts later."""
    _changing(uow)
    place: str | None = await uow.conn.fetchval(
        "UPDATE notifications SET valid_to = $2, ended_by = $3 WHERE id = $1 AND valid_from <= $2 RETURNING place",
        notification_id,
        valid_to,
        by,
    )
    return place


async def seed_notification(uow: UnitOfWork, period: NotificationPeriod) -> int:
    """A shipped notification, unless the place already has one of that kind from that day: 1 if added."""
    _changing(uow)
    status = await uow.conn.execute(
        "INSERT INTO notifications (place, kind, valid_from, valid_to, recorded_by) VALUES ($1, $2, $3, $4, "
        "'system:seed') ON CONFLICT (place, kind, valid_from) DO NOTHING",
        period.place,
        str(period.kind),
        period.valid_from,
        period.valid_to,
    )
    return 1 if status.endswith(" 1") else 0


async def notification_start(uow: UnitOfWork, notification_id: int) -> date | None:
    start: date | None = await uow.conn.fetchval(
        "SELECT valid_from FROM notifications WHERE id = $1", notification_id
    )
    return start


async def lock_for_seeding(uow: UnitOfWork) -> None:
    """One instance seeds at a time (two starting together would both see a key missing)."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext('dipflow_custody.reference.seed'))")

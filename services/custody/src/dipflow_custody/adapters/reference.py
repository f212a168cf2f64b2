"""Reference data in the custody database: custody suites (force and area) and the effective-dated station and
area notifications (docs/rules.md T1, T2, A, B). Read once per consumer batch (the unit of work's memo)."""

from __future__ import annotations

from datetime import date

from dipflow.uow import UnitOfWork
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod, Notified, notified_on


async def suite_place(uow: UnitOfWork, suite: str) -> tuple[str, str] | None:
    """The suite's (force, area); None for a suite this service does not know."""
    key = ("suite", suite)
    if key not in uow.memo:
        row = await uow.conn.fetchrow("SELECT force, area FROM suites WHERE suite = $1", suite)
        uow.memo[key] = (row["force"], row["area"]) if row else None
    place: tuple[str, str] | None = uow.memo[key]
    return place


async def known_suites(uow: UnitOfWork) -> list[str]:
    return [r["suite"] for r in await uow.conn.fetch("SELECT suite FROM suites ORDER BY suite")]


async def notified(uow: UnitOfWork, place: str, on: date) -> Notified:
    """What ``place`` (a suite or an area) was notified for on ``on``."""
    key = ("notifications", place)
    if key not in uow.memo:
        rows = await uow.conn.fetch(
            "SELECT place, kind, valid_from, valid_to FROM notifications WHERE place = $1", place
        )
        uow.memo[key] = [
            NotificationPeriod(r["place"], NotificationKind(r["kind"]), r["valid_from"], r["valid_to"])
            for r in rows
        ]
    return notified_on(uow.memo[key], place, on)


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


async def add_notification(uow: UnitOfWork, period: NotificationPeriod) -> int | None:
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
    return int(
        await uow.conn.fetchval(
            "INSERT INTO notifications (place, kind, valid_from, valid_to) VALUES ($1, $2, $3, $4) RETURNING id",
            period.place,
            str(period.kind),
            period.valid_from,
            period.valid_to,
        )
    )


async def end_notification(uow: UnitOfWork, notification_id: int, valid_to: date) -> bool:
    status = await uow.conn.execute(
        "UPDATE notifications SET valid_to = $2 WHERE id = $1 AND valid_from <= $2", notification_id, valid_to
    )
    return bool(status.endswith(" 1"))


async def notification_start(uow: UnitOfWork, notification_id: int) -> date | None:
    start: date | None = await uow.conn.fetchval(
        "SELECT valid_from FROM notifications WHERE id = $1", notification_id
    )
    return start

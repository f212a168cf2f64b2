"""Register periods in the register's database: one row per period, never overwritten but ended."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import asyncpg

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.domain.register import Period, Strand, open_period

COLUMNS = "person_id, borough, strand, start_date, end_date, reason, added_by, end_reason, ended_by"


def _period(row: asyncpg.Record) -> Period:
    return Period(
        row["person_id"],
        row["borough"],
        Strand(row["strand"]),
        row["start_date"],
        row["end_date"],
        row["reason"],
        row["added_by"],
        row["end_reason"],
        row["ended_by"],
    )


async def lock_person(uow: UnitOfWork, person_id: str) -> None:
    """Changes to one person's periods are serialised until the transaction ends."""
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", person_id)


async def history(uow: UnitOfWork, person_id: str, *, lock: bool = False) -> list[Period]:
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM register_periods WHERE person_id = $1 ORDER BY start_date, id"
        + (" FOR UPDATE" if lock else ""),
        person_id,
    )
    return [_period(r) for r in rows]


async def current_borough(uow: UnitOfWork, person_id: str) -> str | None:
    """The borough of the person's open period; None when they are not on the register."""
    current = open_period(await history(uow, person_id))
    return current.borough if current else None


async def on_date(uow: UnitOfWork, day: date, borough: str | None) -> list[Period]:
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM register_periods WHERE start_date <= $1 AND (end_date IS NULL OR end_date >= $1) "
        "AND ($2::text IS NULL OR borough = $2) ORDER BY borough, person_id",
        day,
        borough,
    )
    return [_period(r) for r in rows]


async def periods_of(uow: UnitOfWork, person_ids: Iterable[str]) -> dict[str, list[Period]]:
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM register_periods WHERE person_id = ANY($1::text[]) ORDER BY start_date, id",
        list(person_ids),
    )
    periods: dict[str, list[Period]] = {}
    for row in rows:
        periods.setdefault(row["person_id"], []).append(_period(row))
    return periods


async def start(uow: UnitOfWork, period: Period) -> None:
    await uow.conn.execute(
        "INSERT INTO register_periods (person_id, borough, strand, start_date, reason, added_by) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        period.person_id,
        period.borough,
        str(period.strand),
        period.start_date,
        period.reason,
        period.added_by,
    )


async def end(uow: UnitOfWork, person_id: str, day: date, reason: str, by: str) -> None:
    """Ends the person's open period on ``day``."""
    await uow.conn.execute(
        "UPDATE register_periods SET end_date = $2, end_reason = $3, ended_by = $4, ended_at = now() "
        "WHERE person_id = $1 AND end_date IS NULL",
        person_id,
        day,
        reason,
        by,
    )

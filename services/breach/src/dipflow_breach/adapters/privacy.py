"""Breach's personal data: orders, breach cases, arrest requests, custody bookings and liaison notifications
name the person; the local copy of the PPO register holds ids."""

from __future__ import annotations

import asyncpg

from dipflow.privacy import Pseudonyms, pseudonymise_rows
from dipflow.privacy.pseudonyms import json_person
from dipflow.privacy.retention import RetentionCutoffs
from dipflow.uow import UnitOfWork

TABLES = ("orders", "breach_cases", "arrest_requests", "bookings")
NOTIFICATION_BODY = json_person("body")  # the body repeats the person id


async def erase_person(uow: UnitOfWork, person_id: str, pseudonyms: Pseudonyms) -> dict[str, int]:
    conn = uow.conn
    rows = {t: await pseudonymise_rows(conn, pseudonyms, t, "person_id = $1", person_id) for t in TABLES}
    rows["notifications"] = await pseudonymise_rows(
        conn, pseudonyms, "notifications", "person_id = $1", person_id, also=NOTIFICATION_BODY
    )
    removed = await conn.execute("DELETE FROM ppo_register WHERE person_id = $1", person_id)
    rows["ppo_register"] = int(removed.rsplit(" ", 1)[-1])
    return rows


async def retain(
    conn: asyncpg.Connection, pseudonyms: Pseudonyms, cutoffs: RetentionCutoffs
) -> dict[str, int]:
    """Closed more than ``closed_days`` ago: ended orders, closed cases, arrest requests that were answered
    or cancelled, bookings, and notifications that were delivered or dead-lettered."""
    at, day = cutoffs.closed_before, cutoffs.closed_before.date()
    where = {
        "orders": ("ended_on < $1", day),
        "breach_cases": ("closed_at < $1", at),
        "arrest_requests": ("coalesce(arrested_at, cancelled_at) < $1", at),
        "bookings": ("arrested_at < $1", at),
    }
    rows = {t: await pseudonymise_rows(conn, pseudonyms, t, w, v) for t, (w, v) in where.items()}
    rows["notifications"] = await pseudonymise_rows(
        conn,
        pseudonyms,
        "notifications",
        "coalesce(delivered_at, dead_lettered_at) < $1",
        at,
        also=NOTIFICATION_BODY,
    )
    return rows

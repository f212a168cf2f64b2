"""The PPO register's personal data: register periods, and the results, failures, arrests and charges kept
for P2, P3, K1 and K2. Every table uses the same pseudonym for a person, so a pseudonymised history still
counts (and joins with the register) as it did."""

from __future__ import annotations

import asyncpg

from dipflow.privacy import Pseudonyms, pseudonymise_rows
from dipflow.privacy.retention import RetentionCutoffs
from dipflow.topics import PPO_REGISTER
from dipflow.uow import UnitOfWork

TABLES = ("register_periods", "positive_results", "assessment_failures", "arrests", "charges", "panel_flags")


async def erase_person(uow: UnitOfWork, person_id: str, pseudonyms: Pseudonyms) -> dict[str, int]:
    """Also a tombstone for the person on the compacted register topic, so the copies in custody and breach
    drop them and compaction removes their last status."""
    conn = uow.conn
    on_register = await conn.fetchval("SELECT count(*) FROM register_periods WHERE person_id = $1", person_id)
    rows = {t: await pseudonymise_rows(conn, pseudonyms, t, "person_id = $1", person_id) for t in TABLES}
    if on_register:
        await uow.tombstone(PPO_REGISTER.name, person_id)
    return rows


async def retain(
    conn: asyncpg.Connection, pseudonyms: Pseudonyms, cutoffs: RetentionCutoffs
) -> dict[str, int]:
    """Everything that ended more than ``closed_days`` ago: well outside the 12-month windows of P2 and P3.
    The register holds no negative results, so ``negative_days`` does not apply here."""
    day = cutoffs.closed_before.date()
    where = {
        "register_periods": "end_date < $1",
        "positive_results": "sampled_on < $1",
        "assessment_failures": "occurred_on < $1",
        "arrests": "arrested_on < $1",
        "charges": "charged_on < $1",
    }
    rows = {t: await pseudonymise_rows(conn, pseudonyms, t, w, day) for t, w in where.items()}
    rows["panel_flags"] = await pseudonymise_rows(
        conn, pseudonyms, "panel_flags", "reviewed_at < $1", cutoffs.closed_before
    )
    return rows

"""Panel flags (P3) in the register's database: raised with their evidence, reviewed once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.domain.panel import FlagRecord

COLUMNS = (
    "id, person_id, borough, raised_on, reason, rule_ids, evidence, reviewed_at, reviewed_by, review_outcome, "
    "review_note"
)


def _flag(row: asyncpg.Record) -> FlagRecord:
    return FlagRecord(**dict(row))


async def lock_people(uow: UnitOfWork, person_ids: Sequence[str]) -> None:
    """Each person's panel lock, to the end of the transaction, in id order (so two never wait on each other)."""
    await uow.conn.executemany(
        "SELECT pg_advisory_xact_lock(hashtext('panel:' || $1))", [(p,) for p in sorted(person_ids)]
    )


async def last_reviews_of(uow: UnitOfWork, person_ids: Sequence[str]) -> dict[str, datetime | None]:
    """For each person who has a flag, when their latest one was reviewed (None while it waits); people with
    no flag are absent."""
    rows = await uow.conn.fetch(
        "SELECT DISTINCT ON (person_id) person_id, reviewed_at FROM panel_flags "
        "WHERE person_id = ANY($1::text[]) ORDER BY person_id, id DESC",
        list(person_ids),
    )
    return {r["person_id"]: r["reviewed_at"] for r in rows}


async def raise_flag(
    uow: UnitOfWork,
    person_id: str,
    borough: str,
    raised_on: date,
    reason: str,
    rule_ids: list[str],
    evidence: dict[str, Any],
) -> None:
    await uow.conn.execute(
        "INSERT INTO panel_flags (person_id, borough, raised_on, reason, rule_ids, evidence) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        person_id,
        borough,
        raised_on,
        reason,
        rule_ids,
        evidence,
    )


async def flags_in(uow: UnitOfWork, borough: str | None, include_reviewed: bool) -> list[FlagRecord]:
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM panel_flags WHERE ($1::text IS NULL OR borough = $1) "
        "AND ($2 OR reviewed_at IS NULL) ORDER BY raised_on DESC, id DESC",
        borough,
        include_reviewed,
    )
    return [_flag(r) for r in rows]


async def by_id(uow: UnitOfWork, flag_id: int) -> FlagRecord | None:
    row = await uow.conn.fetchrow(f"SELECT {COLUMNS} FROM panel_flags WHERE id = $1", flag_id)
    return _flag(row) if row is not None else None


async def review(
    uow: UnitOfWork, flag_id: int, *, by: str, outcome: str, note: str | None
) -> FlagRecord | None:
    """The reviewed flag; None when it had been reviewed already."""
    row = await uow.conn.fetchrow(
        f"UPDATE panel_flags SET reviewed_at = now(), reviewed_by = $2, review_outcome = $3, review_note = $4 "
        f"WHERE id = $1 AND reviewed_at IS NULL RETURNING {COLUMNS}",
        flag_id,
        by,
        outcome,
        note,
    )
    return _flag(row) if row is not None else None

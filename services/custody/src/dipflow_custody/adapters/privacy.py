"""Custody's personal data: detentions hold the person's id, name and date of birth; the local copy of the
PPO register holds ids."""

from __future__ import annotations

import asyncpg

from dipflow.privacy import Pseudonyms
from dipflow.privacy.pseudonyms import PREFIX
from dipflow.privacy.retention import RetentionCutoffs
from dipflow.uow import UnitOfWork
from dipflow_custody.domain.privacy import ERASED_NAME, has_positive_result, pseudonymised_state


async def _pseudonymise_detentions(
    conn: asyncpg.Connection, pseudonyms: Pseudonyms, rows: list[asyncpg.Record]
) -> int:
    for row in rows:
        alias = pseudonyms.of(row["person_id"])
        await conn.execute(
            "UPDATE detentions SET person_id = $2, name = $3, state = $4 WHERE detention_id = $1",
            row["detention_id"],
            alias,
            ERASED_NAME,
            pseudonymised_state(row["state"], alias),
        )
    return len(rows)


async def erase_person(uow: UnitOfWork, person_id: str, pseudonyms: Pseudonyms) -> dict[str, int]:
    conn = uow.conn
    rows = await conn.fetch(
        "SELECT detention_id, person_id, state FROM detentions WHERE person_id = $1 FOR UPDATE", person_id
    )
    removed = await conn.execute("DELETE FROM ppo_register WHERE person_id = $1", person_id)
    return {
        "detentions": await _pseudonymise_detentions(conn, pseudonyms, rows),
        "ppo_register": int(removed.rsplit(" ", 1)[-1]),
    }


async def retain(
    conn: asyncpg.Connection, pseudonyms: Pseudonyms, cutoffs: RetentionCutoffs
) -> dict[str, int]:
    """Released detentions past their period: with no positive result after ``negative_days``, any after
    ``closed_days``. Open detentions are never touched."""
    candidates = await conn.fetch(
        f"SELECT detention_id, person_id, state, released_at FROM detentions "
        f"WHERE released_at < $1 AND person_id NOT LIKE '{PREFIX}%' FOR UPDATE",
        max(cutoffs.negative_before, cutoffs.closed_before),
    )

    def due(row: asyncpg.Record) -> bool:
        if row["released_at"] < cutoffs.closed_before:
            return True
        return bool(row["released_at"] < cutoffs.negative_before and not has_positive_result(row["state"]))

    return {"detentions": await _pseudonymise_detentions(conn, pseudonyms, [r for r in candidates if due(r)])}

"""Panel flags (docs/rules.md P3): re-checked when a positive result or a failed assessment arrives; reviewed by
the PPO coordinator of the borough."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

import asyncpg

from dipflow.db.appends import flush_appends
from dipflow_ppo_register import handlers
from dipflow_ppo_register.adapters.results import failures_of, positive_tests_of
from dipflow_ppo_register.domain.panel import PanelFlag, first_panel_flag

FLAG_COLUMNS = (
    "id, person_id, borough, raised_on, reason, rule_ids, evidence, reviewed_at, reviewed_by, review_outcome, "
    "review_note"
)


def _evidence(flag: PanelFlag) -> dict[str, Any]:
    return {
        "positive_tests": [
            {"detention_id": t.detention_id, "sampled_on": t.sampled_on.isoformat(), "drugs": list(t.drugs)}
            for t in flag.positives
        ],
        "failed_assessments": [
            {**asdict(f), "occurred_on": f.occurred_on.isoformat()} for f in flag.failures
        ],
    }


async def reconsider(conn: asyncpg.Connection, person_id: str, *, threshold: int) -> bool:
    """Raise a flag if P3 held on some day and none is waiting for review; after a review, only evidence newer
    than the review raises a new one. Returns whether a flag was raised."""
    await flush_appends(conn)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('panel:' || $1))", person_id)
    last = await conn.fetchrow(
        "SELECT reviewed_at FROM panel_flags WHERE person_id = $1 ORDER BY id DESC LIMIT 1", person_id
    )
    if last is not None and last["reviewed_at"] is None:
        return False
    reviewed_on = last["reviewed_at"].date() if last is not None else None
    tests = (await positive_tests_of(conn, [person_id], date.max)).get(person_id, [])
    failures = await failures_of(conn, person_id, date.max)
    flag = first_panel_flag(tests, failures, threshold=threshold, evidence_after=reviewed_on)
    if flag is None:
        return False
    borough = await handlers.borough_of(conn, person_id) or flag.positives[-1].home_area
    await conn.execute(
        "INSERT INTO panel_flags (person_id, borough, raised_on, reason, rule_ids, evidence) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        person_id, borough, flag.raised_on, flag.reason, list(flag.rule_ids), _evidence(flag),
    )  # fmt: skip
    return True


async def open_flags(
    conn: asyncpg.Connection, borough: str | None, include_reviewed: bool
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {FLAG_COLUMNS} FROM panel_flags WHERE ($1::text IS NULL OR borough = $1) "
        "AND ($2 OR reviewed_at IS NULL) ORDER BY raised_on DESC, id DESC",
        borough, include_reviewed,
    )  # fmt: skip
    return rows


async def review(
    conn: asyncpg.Connection, flag_id: int, *, by: str, outcome: str, note: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"UPDATE panel_flags SET reviewed_at = now(), reviewed_by = $2, review_outcome = $3, review_note = $4 "
        f"WHERE id = $1 AND reviewed_at IS NULL RETURNING {FLAG_COLUMNS}",
        flag_id, by, outcome, note,
    )  # fmt: skip


async def flag_by_id(conn: asyncpg.Connection, flag_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {FLAG_COLUMNS} FROM panel_flags WHERE id = $1", flag_id)

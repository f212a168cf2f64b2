"""A consumer batch reads the rows it names in one prepared statement, and PostgreSQL keeps the plan it made for
that statement (its generic plan) until the table is analysed again. Priced as a service database is
(docs/runbook.md: ``random_page_cost``), that plan reads by index even when it was made while the table was
empty, so a table that grew since does not get read whole by every batch."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from dipflow.db import apply_migrations, load_migrations
from dipflow_custody.contracts.events import Released
from tests.integration.referral.test_detention_facts import apply_batch

SUITE = "MET-BRIXTON"
RELEASED = datetime(2010, 6, 7, 16, tzinfo=UTC)


async def _release_batch(conn: asyncpg.Connection, person: str, detention_ids: list[str]) -> int:
    """Releases of ``detention_ids`` applied as one batch of the custody-events consumer; the times that
    transaction read ``detentions`` whole."""
    released = [
        (Released(detention_id=d, suite=SUITE, release="nfa", home_area="lambeth"), RELEASED)
        for d in detention_ids
    ]
    _, scans = await apply_batch(conn, person, list(released), counting=("seq_scan",))
    return scans


async def _grow(conn: asyncpg.Connection, first: int, last: int) -> None:
    """Detentions ``G-first`` to ``G-last`` inserted at once, the table left unanalysed (as between two runs of
    autovacuum)."""
    await conn.execute(
        "INSERT INTO detentions (detention_id, person_id, suite, arrested_at) "
        "SELECT 'G-' || g, 'P-' || g, $1, $2 FROM generate_series($3::int, $4::int) AS g",
        SUITE,
        RELEASED - timedelta(hours=8),
        first,
        last,
    )


async def test_a_batchs_read_ahead_reads_by_index_after_its_table_grew_past_the_plan(
    database_dsn: str, unique: str
) -> None:
    person = f"L-{unique.upper()}"
    conn = await asyncpg.connect(database_dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await apply_migrations(conn, load_migrations("dipflow_referral.migrations"))
        rng = random.Random(7)  # batches as a busy consumer's: some rows new, some read before
        known: list[str] = []
        while_small = []
        for _ in range(8):
            new = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(60)]
            named = sorted(set(new[:30] + rng.sample(known, min(len(known), 40))))
            while_small.append(await _release_batch(conn, person, named))
            await conn.executemany(
                "INSERT INTO detentions (detention_id, person_id, suite) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [(d, "P-" + d[:8], SUITE) for d in new],
            )
            known += new
        await _grow(conn, 1, 20_000)
        grown = await _release_batch(conn, person, [f"G-{g}" for g in range(1, 20_000, 300)])
        plans = await conn.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%FROM detentions WHERE detention_id = ANY%' AND statement NOT LIKE '%pg_prepared%'"
        )
    finally:
        await conn.close()
    assert plans and plans[0]["generic_plans"] > 0, "the read-ahead ran on the plan made while it was small"
    assert grown == 0, f"the batch read detentions whole {grown} times (while small: {while_small})"

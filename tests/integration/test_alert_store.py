"""The alert store on a real PostgreSQL: resolving alerts stays a probe of the (kind, subject) index however
many alerts the table holds, on a connection that prepared its statement while the table was empty."""

from __future__ import annotations

import asyncpg
import pytest

from dipflow.alerts.store import resolve_all
from dipflow.auth import Principal, Role
from dipflow.db.appends import Writes
from dipflow.uow import Producer, UnitOfWork

pytestmark = pytest.mark.infra

SCANS = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'alerts'"
"""The session's scans of the table not yet reported to the statistics: compared before and after."""


async def test_resolving_alerts_probes_the_index_however_the_table_grew(service_pool: asyncpg.Pool) -> None:
    async with service_pool.acquire() as conn:
        actor = Principal(subject="t", role=Role.admin, area="*")
        uow = UnitOfWork(Writes(conn), Producer("t", "t.a"), correlation_id="c-1", actor=actor)
        for n in range(8):  # past the five custom plans after which PostgreSQL may keep a generic one
            await resolve_all(uow, [("overdue", f"none-{n}"), ("unassigned", f"none-{n}")], resolution="r")
        await conn.execute(
            "INSERT INTO alerts (alert_id, kind, subject, role, area, due_at, summary) "
            "SELECT gen_random_uuid(), k, 's' || i, 'referral_manager', 'lambeth', now(), 'x' "
            "FROM generate_series(1, 20000) AS i, unnest(ARRAY['overdue', 'unassigned']) AS k"
        )
        async with conn.transaction():
            before = await conn.fetchrow(SCANS)
            resolved = await resolve_all(
                uow, [("overdue", "s7"), ("unassigned", "s9")], resolution="answered"
            )
            after = await conn.fetchrow(SCANS)
        states = await conn.fetch(
            "SELECT kind, subject FROM alerts WHERE state = 'resolved' ORDER BY kind, subject"
        )
    assert resolved == 2
    assert [(r["kind"], r["subject"]) for r in states] == [("overdue", "s7"), ("unassigned", "s9")]
    assert after["seq_scan"] == before["seq_scan"]
    assert after["idx_scan"] > before["idx_scan"]

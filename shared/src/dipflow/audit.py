"""The audit log: who, in which role, did what to whose record, when, under which correlation id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dipflow.db.appends import INSERT_AUDIT as INSERT

__all__ = ["INSERT", "AuditQuery", "query_audit"]


@dataclass(frozen=True)
class AuditQuery:
    person_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None
    limit: int = 100


async def query_audit(conn: asyncpg.Connection | asyncpg.Pool, q: AuditQuery) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated by id."""
    rows = await conn.fetch(
        """
        SELECT id, at, actor, role, area, action, person_id, correlation_id, detail
        FROM audit_log
        WHERE ($1::text IS NULL OR person_id = $1)
          AND ($2::text IS NULL OR actor = $2)
          AND ($3::text IS NULL OR action = $3)
          AND ($4::timestamptz IS NULL OR at >= $4)
          AND ($5::timestamptz IS NULL OR at < $5)
          AND ($6::bigint IS NULL OR id < $6)
        ORDER BY id DESC
        LIMIT $7
        """,
        q.person_id,
        q.actor,
        q.action,
        q.since,
        q.until,
        q.after_id,
        q.limit,
    )
    return [dict(r) for r in rows]

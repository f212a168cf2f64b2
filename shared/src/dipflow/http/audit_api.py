"""The admin-only query API over a service's audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from dipflow.audit import AuditQuery, query_audit
from dipflow.auth.principal import Role
from dipflow.http.access import AuthContext, requires
from dipflow.http.params import Instant

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    area: str
    action: str
    person_id: str | None
    correlation_id: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


@router.get("", summary="Audit entries, newest first (admins only)", response_model=AuditPage)
async def list_audit(
    person_id: str | None = Query(None, max_length=64),
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=100),
    since: Instant | None = None,
    until: Instant | None = None,
    cursor: str | None = Query(None, pattern=r"^\d{1,18}$", description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    ctx: AuthContext = Depends(requires(Role.admin)),
) -> AuditPage:
    rows = await query_audit(
        ctx.pool,
        AuditQuery(person_id, actor, action, since, until, int(cursor) if cursor else None, limit),
    )
    await ctx.audit("audit.read", person_id, detail={"returned": len(rows)})
    next_cursor = str(rows[-1]["id"]) if len(rows) == limit else None
    return AuditPage(items=[AuditEntry(**r) for r in rows], next_cursor=next_cursor)

"""Named read models of the breach database: what an order holds, an area's breach cases and arrest requests,
and the arrest outcomes K3 is measured on."""

from __future__ import annotations

from datetime import date

from dipflow.uow import UnitOfWork
from dipflow_breach.adapters.repository import (
    CASE_COLUMNS,
    ORDER_COLUMNS,
    REQUEST_COLUMNS,
    case_of,
    compliance_of,
    order_of,
    request_of,
)
from dipflow_breach.domain.arrests import ArrestOutcome, ArrestRequest
from dipflow_breach.domain.cases import BreachCase
from dipflow_breach.domain.drr import ComplianceEntry, FormalWarning, Order

LIST_LIMIT = 500


async def compliance_on(uow: UnitOfWork, order_id: str) -> list[ComplianceEntry]:
    rows = await uow.conn.fetch(
        "SELECT record_id, kind, on_date, reason, result, decision, rule_ids, explanation FROM compliance "
        "WHERE order_id = $1 ORDER BY on_date, id",
        order_id,
    )
    return [compliance_of(r) for r in rows]


async def warnings_on(uow: UnitOfWork, order_id: str) -> list[FormalWarning]:
    rows = await uow.conn.fetch(
        "SELECT issued_on, reason, text FROM warnings WHERE order_id = $1 ORDER BY issued_on", order_id
    )
    return [FormalWarning(r["issued_on"], r["reason"], r["text"]) for r in rows]


async def cases_on(uow: UnitOfWork, order_id: str) -> list[BreachCase]:
    rows = await uow.conn.fetch(
        f"SELECT {CASE_COLUMNS} FROM breach_cases WHERE order_id = $1 ORDER BY failure_on", order_id
    )
    return [case_of(r) for r in rows]


async def orders_in(uow: UnitOfWork, area: str) -> list[Order]:
    """The area's orders, those still running first, then the newest (at most ``LIST_LIMIT``)."""
    rows = await uow.conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE area = $1 "
        f"ORDER BY ended_on IS NOT NULL, start_date DESC, order_id LIMIT {LIST_LIMIT}",
        area,
    )
    return [order_of(r) for r in rows]


async def cases_in(uow: UnitOfWork, area: str) -> list[BreachCase]:
    """The area's breach cases, the newest first (at most ``LIST_LIMIT``)."""
    rows = await uow.conn.fetch(
        f"SELECT {CASE_COLUMNS} FROM breach_cases WHERE area = $1 ORDER BY opened_at DESC LIMIT {LIST_LIMIT}",
        area,
    )
    return [case_of(r) for r in rows]


async def requests_in(uow: UnitOfWork, area: str, *, open_only: bool) -> list[ArrestRequest]:
    """The area's arrest requests (only the open ones, neither answered nor cancelled, with ``open_only``), the
    newest first (at most ``LIST_LIMIT``)."""
    rows = await uow.conn.fetch(
        f"SELECT {REQUEST_COLUMNS} FROM arrest_requests "
        "WHERE area = $1 AND (NOT $2 OR (arrested_at IS NULL AND cancelled_at IS NULL)) "
        f"ORDER BY requested_at DESC LIMIT {LIST_LIMIT}",
        area,
        open_only,
    )
    return [request_of(r) for r in rows]


async def arrest_outcomes(uow: UnitOfWork, since: date, until: date) -> list[ArrestOutcome]:
    """K3: the requests made in [since, until] (London days), not cancelled, as K3 measures them."""
    rows = await uow.conn.fetch(
        "SELECT source, area, ppo, requested_at, deadline_at, arrested_at FROM arrest_requests "
        "WHERE cancelled_at IS NULL AND (requested_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2",
        since,
        until,
    )
    return [
        ArrestOutcome(r["source"], r["area"], r["ppo"], r["requested_at"], r["deadline_at"], r["arrested_at"])
        for r in rows
    ]

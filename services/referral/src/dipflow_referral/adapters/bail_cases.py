"""Restriction-on-bail cases in the referral database (``bail_cases``), one per charged detention with a positive
result."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import workers
from dipflow_referral.domain.bail import BailCase, CourtOutcome, Restriction
from dipflow_referral.domain.events import Outcome

COLUMNS = (
    "detention_id, person_id, area, agreed, substantial_grounds, restriction, rule_ids, reasons, notified_at, "
    "outcome, court, decided_on, breached_at, breach_what, arrested_at, before_justice_by, condition_appointment_at, "
    "condition_place, condition_worker_id, condition_attendance, condition_good_cause, condition_attended_at"
)


def _case(r: asyncpg.Record) -> BailCase:
    return BailCase(
        detention_id=r["detention_id"],
        person_id=r["person_id"],
        area=r["area"],
        agreed=r["agreed"],
        substantial_grounds=r["substantial_grounds"],
        restriction=Restriction(r["restriction"]) if r["restriction"] else None,
        rule_ids=tuple(r["rule_ids"]),
        reasons=tuple(r["reasons"]),
        notified_at=r["notified_at"],
        outcome=CourtOutcome(r["outcome"]) if r["outcome"] else None,
        court=r["court"],
        decided_on=r["decided_on"],
        breached_at=r["breached_at"],
        breach_what=r["breach_what"],
        arrested_at=r["arrested_at"],
        before_justice_by=r["before_justice_by"],
        condition_appointment_at=r["condition_appointment_at"],
        condition_place=r["condition_place"],
        condition_worker_id=r["condition_worker_id"],
        condition_attendance=Outcome(r["condition_attendance"]) if r["condition_attendance"] else None,
        condition_good_cause=r["condition_good_cause"],
        condition_attended_at=r["condition_attended_at"],
    )


async def load(uow: UnitOfWork, detention_id: str, *, lock: bool = False) -> BailCase | None:
    row = await uow.conn.fetchrow(
        f"SELECT {COLUMNS} FROM bail_cases WHERE detention_id = $1" + (" FOR UPDATE" if lock else ""),
        detention_id,
    )
    return None if row is None else _case(row)


async def insert(uow: UnitOfWork, case: BailCase) -> None:
    await uow.conn.execute(
        "INSERT INTO bail_cases (detention_id, person_id, area) VALUES ($1, $2, $3)",
        case.detention_id,
        case.person_id,
        case.area,
    )


async def save(uow: UnitOfWork, case: BailCase) -> None:
    """The case as it now stands; a condition's appointment it sets, moves or answers changes a worker's load."""
    workers.forget_loads(uow)
    await uow.conn.execute(
        "UPDATE bail_cases SET agreed = $2, substantial_grounds = $3, restriction = $4, rule_ids = $5, "
        "reasons = $6, notified_at = $7, outcome = $8, court = $9, decided_on = $10, breached_at = $11, "
        "breach_what = $12, arrested_at = $13, before_justice_by = $14, condition_appointment_at = $15, "
        "condition_place = $16, condition_worker_id = $17, condition_attendance = $18, condition_good_cause = $19, "
        "condition_attended_at = $20, updated_at = now() WHERE detention_id = $1",
        case.detention_id,
        case.agreed,
        case.substantial_grounds,
        str(case.restriction) if case.restriction else None,
        list(case.rule_ids),
        list(case.reasons),
        case.notified_at,
        str(case.outcome) if case.outcome else None,
        case.court,
        case.decided_on,
        case.breached_at,
        case.breach_what,
        case.arrested_at,
        case.before_justice_by,
        case.condition_appointment_at,
        case.condition_place,
        case.condition_worker_id,
        str(case.condition_attendance) if case.condition_attendance else None,
        case.condition_good_cause,
        case.condition_attended_at,
    )


async def breached_before(uow: UnitOfWork, person_id: str, at: datetime) -> BailCase | None:
    """B4: the person's latest case whose condition was broken by ``at`` and who was not arrested for it, locked."""
    row = await uow.conn.fetchrow(
        f"SELECT {COLUMNS} FROM bail_cases WHERE person_id = $1 AND breached_at IS NOT NULL "
        "AND arrested_at IS NULL AND breached_at <= $2 ORDER BY breached_at DESC LIMIT 1 FOR UPDATE",
        person_id,
        at,
    )
    return None if row is None else _case(row)


async def in_area(uow: UnitOfWork, area: str) -> list[BailCase]:
    """The area's 500 most recently changed cases."""
    rows = await uow.conn.fetch(
        f"SELECT {COLUMNS} FROM bail_cases WHERE area = $1 ORDER BY updated_at DESC LIMIT 500", area
    )
    return [_case(r) for r in rows]

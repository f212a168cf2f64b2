"""The register's service layer: one transaction per change, with its compacted-topic record in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg

from dipflow.audit import Audit
from dipflow.events import new_envelope
from dipflow.events.outbox import add_to_outbox, add_tombstone
from dipflow.topics import PPO_REGISTER
from dipflow_ppo_register.domain.bulk import Action, ImportRow, RowError, plan_row
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand, check_add, check_remove
from dipflow_ppo_register.events import PpoStatus

COLUMNS = "person_id, borough, strand, start_date, end_date, reason, added_by, end_reason, ended_by"


def period_from(row: asyncpg.Record) -> Period:
    return Period(
        row["person_id"], row["borough"], Strand(row["strand"]), row["start_date"], row["end_date"], row["reason"],
        row["added_by"], row["end_reason"], row["ended_by"],
    )  # fmt: skip


async def history(conn: asyncpg.Connection, person_id: str, *, lock: bool = False) -> list[Period]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM register_periods WHERE person_id = $1 ORDER BY start_date, id"
        + (" FOR UPDATE" if lock else ""),
        person_id,
    )
    return [period_from(r) for r in rows]


async def as_of(conn: asyncpg.Connection, day: date, borough: str | None) -> list[Period]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM register_periods WHERE start_date <= $1 AND (end_date IS NULL OR end_date >= $1) "
        "AND ($2::text IS NULL OR borough = $2) ORDER BY borough, person_id",
        day,
        borough,
    )
    return [period_from(r) for r in rows]


async def _end(conn: asyncpg.Connection, person_id: str, end: date, reason: str, by: str) -> None:
    await conn.execute(
        "UPDATE register_periods SET end_date = $2, end_reason = $3, ended_by = $4, ended_at = now() "
        "WHERE person_id = $1 AND end_date IS NULL",
        person_id, end, reason, by,
    )  # fmt: skip


async def add(
    conn: asyncpg.Connection,
    audit: Audit,
    *,
    person_id: str,
    borough: str,
    strand: Strand,
    start: date,
    reason: str,
) -> Period:
    """Put a person on the register, or move them to another borough or strand (ending the open period)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", person_id)
    past = await history(conn, person_id, lock=True)
    current = check_add(past, borough, strand, start)
    by = audit.principal.subject
    if current is not None:
        await _end(conn, person_id, start - timedelta(days=1), f"changed to {borough} / {strand}", by)
    await conn.execute(
        "INSERT INTO register_periods (person_id, borough, strand, start_date, reason, added_by) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        person_id, borough, str(strand), start, reason, by,
    )  # fmt: skip
    status = PpoStatus(borough=borough, strand=strand, start_date=start)
    envelope = new_envelope(
        status, person_id=person_id, producer="ppo-register", occurred_at=datetime.now(UTC),
        correlation_id=audit.correlation_id,
    )  # fmt: skip
    await add_to_outbox(conn, PPO_REGISTER.name, [envelope])
    await audit.record(
        "register.add", person_id, conn=conn, detail={"borough": borough, "strand": str(strand)}
    )
    return Period(person_id, borough, strand, start, None, reason, by)


async def remove(conn: asyncpg.Connection, audit: Audit, *, person_id: str, end: date, reason: str) -> Period:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", person_id)
    current = check_remove(await history(conn, person_id, lock=True), end)
    await _end(conn, person_id, end, reason, audit.principal.subject)
    await add_tombstone(conn, PPO_REGISTER.name, person_id)
    await audit.record("register.remove", person_id, conn=conn, detail={"borough": current.borough})
    return current


async def borough_of(conn: asyncpg.Connection, person_id: str) -> str | None:
    current = [p for p in await history(conn, person_id) if p.end_date is None]
    return current[0].borough if current else None


@dataclass
class ImportReport:
    rows: int
    added: int = 0
    ended: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


async def import_rows(conn: asyncpg.Connection, audit: Audit, rows: list[ImportRow]) -> ImportReport:
    """Apply valid rows in file order per person, each in its own savepoint so that a row that breaks P1 is
    reported (line, field, reason) and leaves no trace. The caller decides whether to keep the good rows."""
    report = ImportReport(rows=len(rows))
    for row in sorted(rows, key=lambda r: (r.person_id, r.start_date, r.line)):
        if not audit.principal.covers(row.borough):
            report.errors.append(RowError(row.line, "borough", "outside the areas you cover"))
            continue
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", row.person_id)
                past = await history(conn, row.person_id, lock=True)
                action = plan_row(past, row)
                moving_from = next((p.borough for p in past if p.end_date is None), None)
                if action is Action.add and moving_from and not audit.principal.covers(moving_from):
                    raise RegisterRuleBroken(
                        "P1", f"the person is on the register in {moving_from}, outside your areas", "borough"
                    )
                if action in (Action.add, Action.add_and_end):
                    await add(conn, audit, person_id=row.person_id, borough=row.borough, strand=row.strand,
                              start=row.start_date, reason=row.reason)  # fmt: skip
                    report.added += 1
                if action in (Action.end, Action.add_and_end):
                    assert row.end_date is not None
                    await remove(conn, audit, person_id=row.person_id, end=row.end_date, reason=row.reason)
                    report.ended += 1
                if action is Action.unchanged:
                    report.unchanged += 1
        except RegisterRuleBroken as exc:
            report.errors.append(RowError(row.line, exc.field, f"{exc.reason} ({exc.rule_id})"))
    report.errors.sort(key=lambda e: e.line)
    return report

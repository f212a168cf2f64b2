"""The register (P1): put a person on it, move them, take them off, import a partnership's list, read it.
Every change is one unit of work: the period rows, the compacted-topic record (a status or a tombstone) in
the outbox, and the audit row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dipflow.errors import Forbidden, NotFound
from dipflow.topics import PPO_REGISTER
from dipflow.uow import UnitOfWork
from dipflow_ppo_register.adapters import register
from dipflow_ppo_register.contracts.events import PpoStatus
from dipflow_ppo_register.domain.bulk import Action, ImportRow, RowError, plan_row
from dipflow_ppo_register.domain.register import (
    Period,
    RegisterRuleBroken,
    Strand,
    check_add,
    check_remove,
    open_period,
)

Covers = Callable[[str], bool]
"""Whether the caller covers a borough (``Principal.covers``)."""


@dataclass(frozen=True)
class AddToRegister:
    person_id: str
    borough: str
    strand: Strand
    start: date
    reason: str


@dataclass(frozen=True)
class TakeOffRegister:
    person_id: str
    end: date
    reason: str


def _by(uow: UnitOfWork) -> str:
    assert uow.actor is not None, "a register change is made by someone"
    return uow.actor.subject


def _refuse_unless_covered(covers: Covers, borough: str) -> None:
    if not covers(borough):
        raise Forbidden(f"the person is on the register in {borough}, outside your areas", kind="wrong-area")


async def add(uow: UnitOfWork, command: AddToRegister, covers: Covers) -> Period:
    """Put a person on the register, or move them to another borough or strand: the open period ends the day
    before. A move ends a period in another borough, so its coordinators (``covers``) decide it."""
    await register.lock_person(uow, command.person_id)
    past = await register.history(uow, command.person_id, lock=True)
    current = open_period(past)
    if current is not None:
        _refuse_unless_covered(covers, current.borough)
    if check_add(past, command.borough, command.strand, command.start) is not None:
        await register.end(
            uow,
            command.person_id,
            command.start - timedelta(days=1),
            f"changed to {command.borough} / {command.strand}",
            _by(uow),
        )
    period = Period(
        command.person_id, command.borough, command.strand, command.start, None, command.reason, _by(uow)
    )
    await register.start(uow, period)
    status = PpoStatus(borough=command.borough, strand=command.strand, start_date=command.start)
    await uow.emit(command.person_id, [(status, datetime.now(UTC))])
    await uow.audit(
        "register.add", command.person_id, {"borough": command.borough, "strand": str(command.strand)}
    )
    return period


async def remove(uow: UnitOfWork, command: TakeOffRegister, covers: Covers) -> Period:
    """End the person's open period; the tombstone takes them off every copy of the register."""
    await register.lock_person(uow, command.person_id)
    past = await register.history(uow, command.person_id, lock=True)
    current = open_period(past)
    if current is None:
        raise NotFound("person on the register", command.person_id)
    _refuse_unless_covered(covers, current.borough)
    check_remove(past, command.end)
    await register.end(uow, command.person_id, command.end, command.reason, _by(uow))
    await uow.tombstone(PPO_REGISTER.name, command.person_id)
    await uow.audit("register.remove", command.person_id, {"borough": current.borough})
    return current


async def current_borough(uow: UnitOfWork, person_id: str) -> str | None:
    return await register.current_borough(uow, person_id)


async def on_date(uow: UnitOfWork, day: date, borough: str | None) -> list[Period]:
    periods = await register.on_date(uow, day, borough)
    await uow.audit("register.read", detail={"borough": borough, "as_of": str(day), "returned": len(periods)})
    return periods


async def history(uow: UnitOfWork, person_id: str, sees: Covers) -> list[Period]:
    """The person's periods, if any of them is in an area the caller ``sees``."""
    periods = await register.history(uow, person_id)
    if periods and not any(sees(p.borough) for p in periods):
        raise Forbidden("this person's register entries are in areas you do not cover", kind="wrong-area")
    await uow.audit("register.history", person_id)
    return periods


@dataclass
class ImportReport:
    rows: int
    added: int = 0
    ended: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


async def _import_row(uow: UnitOfWork, row: ImportRow, covers: Covers, report: ImportReport) -> None:
    past = await register.history(uow, row.person_id, lock=True)
    action = plan_row(past, row)
    current = open_period(past)
    if action in (Action.add, Action.add_and_end) and current is not None and not covers(current.borough):
        raise RegisterRuleBroken(
            "P1", f"the person is on the register in {current.borough}, outside your areas", "borough"
        )
    if action in (Action.add, Action.add_and_end):
        await add(
            uow, AddToRegister(row.person_id, row.borough, row.strand, row.start_date, row.reason), covers
        )
        report.added += 1
    if action in (Action.end, Action.add_and_end):
        assert row.end_date is not None
        await remove(uow, TakeOffRegister(row.person_id, row.end_date, row.reason), covers)
        report.ended += 1
    if action is Action.unchanged:
        report.unchanged += 1


async def import_rows(uow: UnitOfWork, rows: list[ImportRow], covers: Covers) -> ImportReport:
    """Apply valid rows in file order per person, each in its own savepoint, so that a row that breaks P1 is
    reported (line, field, reason) and leaves no trace. The caller decides whether to keep the good rows."""
    report = ImportReport(rows=len(rows))
    for row in sorted(rows, key=lambda r: (r.person_id, r.start_date, r.line)):
        if not covers(row.borough):
            report.errors.append(RowError(row.line, "borough", "outside the areas you cover"))
            continue
        try:
            async with uow.savepoint():
                await register.lock_person(uow, row.person_id)
                await _import_row(uow, row, covers, report)
        except RegisterRuleBroken as exc:
            report.errors.append(RowError(row.line, exc.field, f"{exc.reason} ({exc.rule_id})"))
    report.errors.sort(key=lambda e: e.line)
    return report

"""CSV imports of reference data (areas, suites, notifications, offences): every row applied, or none. Each bad
row is reported with its line, column and reason, checked as a single change would be; rows apply in file order,
so a borough may name a force added earlier in the same file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dipflow.errors import Conflict, InvalidInput
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_today
from dipflow_custody.domain.reference import ImportKind, RowError, parse_import
from dipflow_custody.service_layer import catalogue, notifications, reference


class BadFile(InvalidInput):
    """A file with bad rows: nothing of it was applied."""

    def __init__(self, kind: ImportKind, errors: list[RowError]) -> None:
        super().__init__(
            f"{len(errors)} problem(s) in the {kind} file; nothing was imported. Fix the rows and import it again.",
            field="body",
            reason=f"{len(errors)} bad row(s)",
            kind="bad-rows",
        )
        self.errors = errors


@dataclass(frozen=True)
class ImportReport:
    kind: ImportKind
    rows: int


async def import_file(uow: UnitOfWork, kind: ImportKind, text: str) -> ImportReport:
    rows, errors = parse_import(kind, text, london_today())
    errors += await _apply(uow, kind, rows, keep=not errors)
    if errors:
        raise BadFile(kind, sorted(errors, key=lambda e: (e.line, e.field)))
    await uow.audit(f"reference.import.{kind}", detail={"rows": len(rows)})
    return ImportReport(kind, len(rows))


class _RollBack(Exception):
    pass


async def _apply(
    uow: UnitOfWork, kind: ImportKind, rows: list[tuple[int, Any]], *, keep: bool
) -> list[RowError]:
    """The rows that parsed, checked as single changes would be; applied only when ``keep`` and none is bad
    (rows that did not parse are reported beside these, so one pass names every bad row)."""
    if kind is ImportKind.offences:
        if not keep:
            return catalogue.check_offence_rows(rows, (await catalogue.refresh(uow)).offences)
        return await catalogue.import_offences(uow, rows)
    errors: list[RowError] = []
    try:
        async with uow.savepoint():
            for line, row in rows:
                try:
                    async with uow.savepoint():
                        await _apply_row(uow, kind, row)
                except InvalidInput as exc:
                    errors.append(RowError(line, exc.field.removeprefix("body."), exc.reason))
                except Conflict as exc:
                    errors.append(RowError(line, "valid_from", exc.detail))
            if errors or not keep:
                raise _RollBack
    except _RollBack:
        pass
    return errors


async def _apply_row(uow: UnitOfWork, kind: ImportKind, row: Any) -> None:
    if kind is ImportKind.areas:
        await reference.define_area(uow, row)
    elif kind is ImportKind.suites:
        await reference.define_suite(uow, row)
    else:
        await notifications.notify(uow, row)

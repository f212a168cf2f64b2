"""/v1/register/import: a partnership's CSV list, all rows or (when asked) the good rows."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dipflow.http.problems import Problem
from dipflow_ppo_register.domain.bulk import RowError, parse_csv, unreadable
from dipflow_ppo_register.entrypoints.http.deps import Maintainer
from dipflow_ppo_register.service_layer import register

router = APIRouter(prefix="/v1/register", tags=["register"])
MAX_IMPORT_BYTES = 5_000_000
CSV_EXAMPLE = (
    "person_id,borough,strand,start_date,end_date,reason\n"
    "08/123456X,camden,Catch & Convict,07/01/2008,,January 2008 panel\n"
    "L-CAM-0042,camden,prevent_and_deter,2008-02-04,2008-06-30,deselected in June\n"
)


class RowErrorView(BaseModel):
    line: int
    field: str
    reason: str


class ImportResult(BaseModel):
    rows: int = Field(description="valid rows in the file")
    added: int
    ended: int
    unchanged: int = Field(description="rows already on the register as given (a re-import changes nothing)")
    skipped: list[RowErrorView] = Field(description="rows left out because they were bad (import_good_rows)")


class _Rollback(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors


def _problem(status: int, detail: str, kind: str, errors: list[RowError]) -> Problem:
    return Problem(
        status,
        detail,
        kind=kind,
        errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in errors],
    )


async def _text(request: Request) -> str:
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "the file is not UTF-8 text", errors=[{"field": "body", "reason": "not UTF-8"}]
        ) from exc


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import a partnership's CSV list (all rows or, when asked, the good rows)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
        }
    },
)
async def import_csv(request: Request, ctx: Maintainer, import_good_rows: bool = False) -> ImportResult:
    """Every row is checked first; errors give line, field and reason. A file with any bad row imports
    nothing unless ``import_good_rows=true``. Re-importing the same file changes nothing."""
    rows, errors = parse_csv(await _text(request))
    if unreadable(errors):
        # No row can be good in such a file: a 422 even when the good rows were asked for.
        raise _problem(
            422,
            "the file is not a register list (see errors); nothing was imported",
            "unreadable-file",
            errors,
        )
    try:
        async with ctx.unit_of_work() as uow:
            report = await register.import_rows(uow, rows, ctx.principal.covers)
            bad = sorted(errors + report.errors, key=lambda e: e.line)
            if bad and not import_good_rows:
                raise _Rollback(bad)
            await uow.audit(
                "register.import",
                detail={"rows": len(rows), "added": report.added, "ended": report.ended, "skipped": len(bad)},
            )
    except _Rollback as rollback:
        raise _problem(
            422,
            f"{len(rollback.errors)} problem(s) in the file; nothing was imported. Fix the rows, or import the good "
            "rows with import_good_rows=true.",
            "bad-rows",
            rollback.errors,
        ) from None
    return ImportResult(
        rows=len(rows) - len({e.line for e in report.errors}),
        added=report.added,
        ended=report.ended,
        unchanged=report.unchanged,
        skipped=[RowErrorView(line=e.line, field=e.field, reason=e.reason) for e in bad],
    )

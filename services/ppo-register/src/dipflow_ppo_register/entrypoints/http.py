"""The PPO register API (docs/rules.md P1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from dipflow.auth import AuthContext, Role, requires
from dipflow.auth.access import Requirement
from dipflow.http.params import Day
from dipflow.http.problems import Problem
from dipflow.working_days import london_today
from dipflow_ppo_register import handlers
from dipflow_ppo_register.domain.bulk import RowError, parse_csv, unreadable
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand

router = APIRouter(prefix="/v1/register", tags=["register"])
MAINTAINERS = (Role.ppo_coordinator, Role.admin)
READERS = (Role.ppo_coordinator, Role.admin, Role.custody_officer, Role.inspector, Role.probation_liaison)
PERSON_ID = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"


class AddToRegister(BaseModel):
    model_config = {"json_schema_extra": {"examples": [
        {"person_id": "08/123456X", "borough": "camden", "strand": "catch_and_convict", "start_date": "2008-01-07",
         "reason": "selected at the January 2008 partnership panel"}]}}  # fmt: skip

    person_id: str = Field(pattern=PERSON_ID)
    borough: str = Field(min_length=2, max_length=60, pattern=r"^[a-z-]+$")
    strand: Strand
    start_date: Day
    reason: str = Field(min_length=3, max_length=500)


class RemoveFromRegister(BaseModel):
    end_date: Day
    reason: str = Field(min_length=3, max_length=500)


class PeriodView(BaseModel):
    person_id: str
    borough: str
    strand: Strand
    start_date: date
    end_date: date | None
    reason: str
    added_by: str
    end_reason: str | None
    ended_by: str | None


def _view(p: Period) -> PeriodView:
    return PeriodView(**p.__dict__)


def _broken(exc: RegisterRuleBroken) -> Problem:
    return Problem(409, exc.reason, kind="register-rule", rule_id=exc.rule_id)


@router.post(
    "", status_code=201, response_model=PeriodView, summary="Put a person on the register (or move them)"
)
async def add(body: AddToRegister, ctx: AuthContext = Depends(requires(*MAINTAINERS))) -> PeriodView:
    ctx.require_area(body.borough)
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            current = await handlers.borough_of(conn, body.person_id)
            if current is not None:
                ctx.require_area(current)  # a move ends the period there: its coordinators decide that
            period = await handlers.add(
                conn, ctx.audit, person_id=body.person_id, borough=body.borough, strand=body.strand,
                start=body.start_date, reason=body.reason,
            )  # fmt: skip
    except RegisterRuleBroken as exc:
        raise _broken(exc) from exc
    return _view(period)


def on_registered_person(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the person's current borough in the caller's area, before the body is read."""
    caller = requires(*roles)

    async def dependency(person_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            borough = await handlers.borough_of(conn, person_id)
        if borough is None:
            raise Problem(404, "the person is not on the register")
        ctx.require_area(borough)
        return ctx

    dependency.record = "the person's current borough is in the caller's area"  # type: ignore[attr-defined]
    return dependency


MAINTAIN_PERSON = on_registered_person(*MAINTAINERS)


@router.post("/{person_id:path}/end", response_model=PeriodView, summary="Take a person off the register")
async def remove(
    person_id: str, body: RemoveFromRegister, ctx: AuthContext = Depends(MAINTAIN_PERSON)
) -> PeriodView:
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            borough = await handlers.borough_of(conn, person_id)
            if borough is None:
                raise Problem(404, "the person is not on the register")
            ctx.require_area(borough)
            period = await handlers.remove(
                conn, ctx.audit, person_id=person_id, end=body.end_date, reason=body.reason
            )
    except RegisterRuleBroken as exc:
        raise _broken(exc) from exc
    return _view(period)


@router.get("", response_model=list[PeriodView], summary="Who was on the register on a date (default today)")
async def on_date(
    as_of: Day | None = None,
    borough: str | None = Query(None, max_length=60),
    ctx: AuthContext = Depends(requires(*READERS, area="borough")),
) -> list[PeriodView]:
    if borough is None and ctx.principal.area != "*":
        raise Problem(
            422,
            "name a borough you cover",
            errors=[{"field": "query.borough", "reason": "required for your area"}],
        )
    async with ctx.audit.pool.acquire() as conn:
        periods = await handlers.as_of(conn, as_of or london_today(), borough)
    await ctx.audit.record(
        "register.read", detail={"borough": borough, "as_of": str(as_of), "returned": len(periods)}
    )
    return [_view(p) for p in periods]


@router.get(
    "/{person_id:path}/history", response_model=list[PeriodView], summary="A person's periods on the register"
)
async def person_history(person_id: str, ctx: AuthContext = Depends(requires(*READERS))) -> list[Any]:
    """Coordinators and probation liaison of a borough the person was registered in; custody officers and
    inspectors of that borough's force (the register is the force's, T4)."""
    async with ctx.audit.pool.acquire() as conn:
        periods = await handlers.history(conn, person_id)
    custody = ctx.principal.role in (Role.custody_officer, Role.inspector)
    sees = ctx.principal.in_force_of if custody else ctx.principal.covers
    if periods and not any(sees(p.borough) for p in periods):
        raise Problem(403, "this person's register entries are in areas you do not cover", kind="wrong-area")
    await ctx.audit.record("register.history", person_id)
    return [_view(p) for p in periods]


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


def _row_problem(errors: list[RowError]) -> Problem:
    return Problem(
        422,
        f"{len(errors)} problem(s) in the file; nothing was imported. Fix the rows, or import the good rows "
        "with import_good_rows=true.",
        kind="bad-rows",
        errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in errors],
    )


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
async def import_csv(
    request: Request,
    import_good_rows: bool = False,
    ctx: AuthContext = Depends(requires(*MAINTAINERS)),
) -> ImportResult:
    """Every row is checked first; errors give line, field and reason. A file with any bad row imports
    nothing unless ``import_good_rows=true``. Re-importing the same file changes nothing."""
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "the file is not UTF-8 text", errors=[{"field": "body", "reason": "not UTF-8"}]
        ) from exc
    rows, errors = parse_csv(text)
    if unreadable(errors):
        # No row can be good in such a file: a 422 even when the good rows were asked for.
        raise Problem(
            422,
            "the file is not a register list (see errors); nothing was imported",
            kind="unreadable-file",
            errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in errors],
        )
    try:
        async with ctx.audit.pool.acquire() as conn, conn.transaction():
            report = await handlers.import_rows(conn, ctx.audit, rows)
            bad = sorted(errors + report.errors, key=lambda e: e.line)
            if bad and not import_good_rows:
                raise _Rollback(bad)
            await ctx.audit.record(
                "register.import", conn=conn,
                detail={"rows": len(rows), "added": report.added, "ended": report.ended, "skipped": len(bad)},
            )  # fmt: skip
    except _Rollback as rollback:
        raise _row_problem(rollback.errors) from None
    return ImportResult(
        rows=len(rows) - len({e.line for e in report.errors}),
        added=report.added,
        ended=report.ended,
        unchanged=report.unchanged,
        skipped=[RowErrorView(line=e.line, field=e.field, reason=e.reason) for e in bad],
    )

"""/v1/areas, /v1/suites and /v1/reference-imports: the areas (boroughs and forces) and custody suites a force
manages, with their history, and CSV imports of areas, suites, notifications and offences (all rows or none).
Everyone signed in reads them; admins change them (audited)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dipflow import reference_copy
from dipflow.http.problems import Problem
from dipflow.working_days import london_today
from dipflow_custody.contracts.bodies import AreaIn, SuiteIn
from dipflow_custody.domain.reference import Area, ImportKind, Suite, Version
from dipflow_custody.entrypoints.http.deps import Admin, SignedIn
from dipflow_custody.service_layer import imports, reference

router = APIRouter(prefix="/v1", tags=["reference data"])
MAX_IMPORT_BYTES = 5_000_000


class AreaView(BaseModel):
    code: str
    name: str
    kind: str
    force: str


class SuiteView(BaseModel):
    code: str
    name: str
    force: str
    borough: str
    address: str | None


class VersionView(BaseModel):
    effective_from: date
    recorded_by: str
    record: dict[str, Any]


def area_view(a: Area) -> AreaView:
    return AreaView(code=a.code, name=a.name, kind=str(a.kind), force=a.force)


def suite_view(s: Suite) -> SuiteView:
    return SuiteView(code=s.code, name=s.name, force=s.force, borough=s.borough, address=s.address)


def version_view(v: Version[Any]) -> VersionView:
    return VersionView(effective_from=v.effective_from, recorded_by=v.recorded_by, record=dict(vars(v.value)))


@router.get(
    "/areas", response_model=list[AreaView], summary="Areas as they are now: boroughs and their forces"
)
async def areas(ctx: SignedIn) -> list[AreaView]:
    async with ctx.unit_of_work() as uow:
        found = await reference.current_areas(uow)
    return [area_view(a) for _, a in sorted(found.items())]


@router.post(
    "/areas", status_code=201, response_model=AreaView, summary="Add or change an area from a date (admins)"
)
async def define_area(body: AreaIn, ctx: Admin) -> AreaView:
    """Answered once this process's access checks know the area (other processes within moments; this one
    too if its read after the commit fails)."""
    async with ctx.unit_of_work() as uow:
        defined = await reference.define_area(uow, body.version(london_today()))
    await reference_copy.reload_areas_after_change(ctx.pool)
    return area_view(defined)


@router.get(
    "/areas/{code}/history", response_model=list[VersionView], summary="An area's versions, oldest first"
)
async def area_history(code: str, ctx: SignedIn) -> list[VersionView]:
    async with ctx.unit_of_work() as uow:
        return [version_view(v) for v in await reference.history(uow, "area", code)]


@router.get("/suites", response_model=list[SuiteView], summary="Custody suites as they are now")
async def suites(ctx: SignedIn) -> list[SuiteView]:
    async with ctx.unit_of_work() as uow:
        found = await reference.current_suites(uow)
    return [suite_view(s) for _, s in sorted(found.items())]


@router.post(
    "/suites",
    status_code=201,
    response_model=SuiteView,
    summary="Add a custody suite or change one from a date (admins)",
)
async def define_suite(body: SuiteIn, ctx: Admin) -> SuiteView:
    async with ctx.unit_of_work() as uow:
        return suite_view(await reference.define_suite(uow, body.version(london_today())))


@router.get(
    "/suites/{code}/history",
    response_model=list[VersionView],
    summary="A suite's versions (its moves), oldest first",
)
async def suite_history(code: str, ctx: SignedIn) -> list[VersionView]:
    async with ctx.unit_of_work() as uow:
        return [version_view(v) for v in await reference.history(uow, "suite", code)]


class ImportResult(BaseModel):
    kind: ImportKind
    rows: int = Field(description="rows applied (a file with a bad row applies none)")


CSV_HEADERS = {
    ImportKind.areas: "code,name,kind,force,effective_from",
    ImportKind.suites: "code,name,force,borough,address,effective_from",
    ImportKind.notifications: "place,kind,valid_from,valid_to",
    ImportKind.offences: "code,statute,section,title,category",
}


@router.post(
    "/reference-imports/{kind}",
    response_model=ImportResult,
    summary="Import a CSV file of areas, suites, notifications or offences: every row, or none (admins)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": CSV_HEADERS[ImportKind.suites] + "\n"}
            },
        }
    },
)
async def import_csv(kind: ImportKind, request: Request, ctx: Admin) -> ImportResult:
    """Columns by header, in any order (``address``, ``valid_to``, ``effective_from`` and ``category`` may be left
    out). A file with any bad row imports nothing; the problem lists each row's line, field and reason."""
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "the file is not UTF-8 text", errors=[{"field": "body", "reason": "not UTF-8"}]
        ) from exc
    try:
        async with ctx.unit_of_work() as uow:
            report = await imports.import_file(uow, kind, text)
    except imports.BadFile as bad:
        raise Problem(
            422,
            bad.detail,
            kind="bad-rows",
            errors=[{"line": e.line, "field": e.field, "reason": e.reason} for e in bad.errors],
        ) from None
    if kind is ImportKind.areas:
        await reference_copy.reload_areas_after_change(ctx.pool)
    return ImportResult(kind=report.kind, rows=report.rows)

"""The tested-positive list (P2) and panel flags (P3)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dipflow.auth import AuthContext, Role, requires
from dipflow.auth.access import Requirement
from dipflow.auth.purposes import Purpose, required_purpose
from dipflow.http.params import Day, RowId
from dipflow.http.problems import Problem
from dipflow.working_days import london_today
from dipflow_ppo_register import flags, reads
from dipflow_ppo_register.domain.register import Strand

tested_positive = APIRouter(prefix="/v1/tested-positive", tags=["tested-positive list (P2)"])
panel = APIRouter(prefix="/v1/panel-flags", tags=["panel flags (P3)"])
LIST_READERS = (Role.ppo_coordinator, Role.probation_liaison)
"""T13: the list is individuals' test results; it is read for supervision (and never by police enforcement for
arrests, nor by analysts, who read aggregates)."""
LIST_PURPOSES = (Purpose.supervision,)
CSV_COLUMNS = ("person_id", "borough", "strand", "on_register_since", "last_positive_on", "last_drugs",
               "positives_in_12_months")  # fmt: skip


class PositiveListLine(BaseModel):
    person_id: str
    borough: str
    strand: Strand
    on_register_since: date
    last_positive_on: date
    last_drugs: list[str]
    positives_in_12_months: int
    rule_ids: list[str]


class Format(StrEnum):
    json = "json"
    csv = "csv"


def _borough_for(ctx: AuthContext, borough: str | None) -> str | None:
    if borough is None and ctx.principal.area != "*":
        raise Problem(
            422,
            "name a borough you cover",
            errors=[{"field": "query.borough", "reason": "required for your area"}],
        )
    return borough


@tested_positive.get(
    "",
    response_model=list[PositiveListLine],
    summary="PPOs who have tested positive: last positive, its drugs, positives in the last 12 months",
    responses={200: {"content": {"text/csv": {}}}},
)
async def tested_positive_list(
    borough: str | None = Query(None, max_length=60),
    as_of: Day | None = None,
    format: Format = Format.json,
    purpose: Purpose | None = Query(None, description="What the results are read for (T13): supervision"),
    ctx: AuthContext = Depends(requires(*LIST_READERS, area="borough")),
) -> Any:
    """Refreshed as custody results arrive. ``format=csv`` (or ``Accept: text/csv``) exports the same lines."""
    day = as_of or london_today()
    reading = required_purpose(ctx.principal, purpose, LIST_PURPOSES)
    async with ctx.audit.pool.acquire() as conn:
        found = await reads.tested_positive_list(conn, day, _borough_for(ctx, borough))
    await ctx.audit.record(
        "tested_positive.read",
        detail={"borough": borough, "as_of": str(day), "returned": len(found), "purpose": str(reading)},
    )
    lines = [
        PositiveListLine(
            person_id=x.period.person_id,
            borough=x.period.borough,
            strand=x.period.strand,
            on_register_since=x.period.start_date,
            last_positive_on=x.entry.last_positive_on,
            last_drugs=list(x.entry.last_drugs),
            positives_in_12_months=x.entry.positives_in_12_months,
            rule_ids=list(x.entry.rule_ids),
        )
        for x in found
    ]
    if format is Format.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            row = line.model_dump(mode="json")
            row["last_drugs"] = ";".join(line.last_drugs)
            writer.writerow([row[c] for c in CSV_COLUMNS])
        # Header values are Latin-1 and one line: the borough as asked may be neither (a 500 found by fuzzing).
        place = re.sub(r"[^a-z0-9]+", "-", (borough or "all").lower()).strip("-") or "borough"
        filename = f"tested-positive-{place}-{day.isoformat()}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    return lines


class FlagView(BaseModel):
    id: int
    person_id: str
    borough: str
    raised_on: date
    reason: str
    rule_ids: list[str]
    evidence: dict[str, Any]
    reviewed_by: str | None
    review_outcome: str | None
    review_note: str | None


class ReviewOutcome(StrEnum):
    added_to_register = "added_to_register"
    not_selected = "not_selected"


class Review(BaseModel):
    outcome: ReviewOutcome
    note: str | None = Field(None, max_length=1000)


def _flag(row: Any) -> FlagView:
    return FlagView(**{k: row[k] for k in FlagView.model_fields})


@panel.get("", response_model=list[FlagView], summary="People flagged for the PPO panel, with the evidence")
async def panel_flags(
    borough: str | None = Query(None, max_length=60),
    include_reviewed: bool = False,
    ctx: AuthContext = Depends(requires(Role.ppo_coordinator, area="borough")),
) -> list[FlagView]:
    reading = required_purpose(ctx.principal, None, LIST_PURPOSES)  # the evidence is test results (T13)
    async with ctx.audit.pool.acquire() as conn:
        rows = await flags.open_flags(conn, _borough_for(ctx, borough), include_reviewed)
    await ctx.audit.record(
        "panel_flags.read", detail={"borough": borough, "returned": len(rows), "purpose": str(reading)}
    )
    return [_flag(r) for r in rows]


def on_flag(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the flag's borough in the caller's area, before the body is read."""
    caller = requires(*roles)

    async def dependency(flag_id: RowId, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.audit.pool.acquire() as conn:
            current = await flags.flag_by_id(conn, flag_id)
        if current is None:
            raise Problem(404, "no such panel flag")
        ctx.require_area(current["borough"])
        return ctx

    dependency.record = "the flag's borough is in the caller's area"  # type: ignore[attr-defined]
    return dependency


REVIEW_FLAG = on_flag(Role.ppo_coordinator)


@panel.post("/{flag_id}/review", response_model=FlagView, summary="Record the panel's decision on a flag")
async def review_flag(flag_id: RowId, body: Review, ctx: AuthContext = Depends(REVIEW_FLAG)) -> FlagView:
    async with ctx.audit.pool.acquire() as conn, conn.transaction():
        current = await flags.flag_by_id(conn, flag_id)
        if current is None:
            raise Problem(404, "no such panel flag")
        ctx.require_area(current["borough"])
        row = await flags.review(
            conn, flag_id, by=ctx.principal.subject, outcome=str(body.outcome), note=body.note
        )
        if row is None:
            raise Problem(409, "this flag has already been reviewed", kind="already-reviewed")
        await ctx.audit.record(
            "panel_flag.review", current["person_id"], conn=conn, detail={"outcome": str(body.outcome)}
        )
    return _flag(row)

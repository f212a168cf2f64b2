"""K4: arrest referral measures by month, borough and custody suite (counts only)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from dipflow.auth import AuthContext, Role, requires
from dipflow.http.params import Day
from dipflow_referral.adapters import repository as repo

measures = APIRouter(prefix="/v1/measures", tags=["measures"])
COLUMNS = ("tests", "positives", "requirements_imposed", "initial_attended", "follow_up_attended", "failures",
           "entered_treatment")  # fmt: skip

K4_SQL = """
WITH facts AS (
    SELECT 'tests' AS measure, suite, home_area, sample_taken_at AS at FROM detentions WHERE sample_taken_at IS NOT NULL
    UNION ALL
    SELECT 'positives', suite, home_area, coalesce(sample_taken_at, arrested_at) FROM detentions
     WHERE cardinality(positive_drugs) > 0
    UNION ALL
    SELECT 'requirements_imposed', suite, area, (state->>'imposed_at')::timestamptz FROM assessments
     WHERE state->>'imposed_at' IS NOT NULL
    UNION ALL
    SELECT CASE WHEN t.outcome = 'attended' THEN t.kind || '_attended' ELSE 'failures' END, a.suite, a.area, t.recorded_at
      FROM attendances t JOIN assessments a USING (assessment_id) WHERE t.outcome = 'attended' OR NOT t.good_cause
    UNION ALL
    SELECT 'entered_treatment', suite, area, (state->>'entered_treatment_at')::timestamptz FROM assessments
     WHERE state->>'entered_treatment_at' IS NOT NULL
)
SELECT measure, to_char(at AT TIME ZONE 'Europe/London', 'YYYY-MM') AS month, suite, home_area, count(*) AS n
  FROM facts WHERE (at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND suite IS NOT NULL
 GROUP BY 1, 2, 3, 4
"""


class K4Row(BaseModel):
    month: str
    borough: str
    suite: str
    tests: int = 0
    positives: int = 0
    requirements_imposed: int = 0
    initial_attended: int = 0
    follow_up_attended: int = 0
    failures: int = 0
    entered_treatment: int = 0


@measures.get(
    "/k4", response_model=list[K4Row], summary="K4: tests, positives, requirements, attendance, treatment"
)
async def k4(
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    borough: str | None = Query(None, max_length=60),
    ctx: AuthContext = Depends(requires(Role.analyst, Role.referral_manager, Role.admin, area="borough")),
) -> list[K4Row]:
    """The borough is the one the custody suite serves."""
    async with ctx.audit.pool.acquire() as conn:
        rows = await conn.fetch(K4_SQL, since, until)
    table: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for r in rows:
        where = repo.area_of_suite(r["suite"], r["home_area"] or "unknown")
        cell = table[(r["month"], where, r["suite"])]
        cell[r["measure"]] = cell.get(r["measure"], 0) + r["n"]
    return [
        K4Row(month=month, borough=where, suite=suite, **counts)
        for (month, where, suite), counts in sorted(table.items())
        if (borough is None or where == borough) and ctx.principal.covers(where)
    ]

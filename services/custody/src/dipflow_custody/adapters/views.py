"""Named read models of the custody database (what the measures read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dipflow.uow import UnitOfWork


@dataclass(frozen=True)
class TestsInMonth:
    suite: str
    month: str
    tests: int


async def tests_by_suite_and_month(uow: UnitOfWork, since: date, until: date) -> list[TestsInMonth]:
    """K5: samples taken per suite and month (sample date in [since, until], London days)."""
    rows = await uow.conn.fetch(
        """
        SELECT suite,
               to_char(date_trunc('month', (state->>'sample_taken_at')::timestamptz AT TIME ZONE 'Europe/London'),
                       'YYYY-MM') AS month,
               count(*) AS tests
        FROM detentions
        WHERE state->>'sample_taken_at' IS NOT NULL
          AND ((state->>'sample_taken_at')::timestamptz AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2
        GROUP BY 1, 2 ORDER BY 2, 1
        """,
        since,
        until,
    )
    return [TestsInMonth(r["suite"], r["month"], r["tests"]) for r in rows]

"""Named read models of the custody database (what the measures read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_custody.adapters.repository import from_doc
from dipflow_custody.domain.detention import Detention


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


@dataclass(frozen=True)
class RecordedAsGiven:
    statute: str
    section: str
    wordings: list[str]
    system_codes: list[str]
    times_recorded: int
    first_recorded_on: date
    last_recorded_on: date


async def uncatalogued_offences(uow: UnitOfWork) -> list[RecordedAsGiven]:
    """Offences recorded as the custody system gave them (not in the catalogue then), by provision."""
    rows = await uow.conn.fetch(
        """
        SELECT o->>'statute' AS statute, o->>'section' AS section,
               array_remove(array_agg(DISTINCT o->>'wording'), NULL) AS wordings,
               array_remove(array_agg(DISTINCT o->>'system_code'), NULL) AS system_codes,
               count(*) AS times, min(d.booked_in_at) AS first_at, max(d.booked_in_at) AS last_at
        FROM detentions d, jsonb_array_elements(d.state->'offences') AS o
        WHERE (o->>'in_catalogue')::boolean IS FALSE
        GROUP BY 1, 2
        """
    )
    return [
        RecordedAsGiven(
            r["statute"],
            r["section"],
            sorted(r["wordings"]),
            sorted(r["system_codes"]),
            r["times"],
            london_day(r["first_at"]),
            london_day(r["last_at"]),
        )
        for r in rows
    ]


async def first_tests(uow: UnitOfWork) -> dict[str, date]:
    """The London day each suite took its first sample (when its set-up costs fall, K5)."""
    rows = await uow.conn.fetch(
        "SELECT suite, min(((state->>'sample_taken_at')::timestamptz AT TIME ZONE 'Europe/London')::date) AS first "
        "FROM detentions WHERE state->>'sample_taken_at' IS NOT NULL GROUP BY suite"
    )
    return {r["suite"]: r["first"] for r in rows}


async def booked_in_between(uow: UnitOfWork, since: date, until: date) -> list[tuple[Detention, date]]:
    """Every detention booked in on a London day in [since, until], with that day (the testing return)."""
    rows = await uow.conn.fetch(
        "SELECT state, (booked_in_at AT TIME ZONE 'Europe/London')::date AS day FROM detentions "
        "WHERE (booked_in_at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 ORDER BY booked_in_at",
        since,
        until,
    )
    return [(from_doc(r["state"]), r["day"]) for r in rows]

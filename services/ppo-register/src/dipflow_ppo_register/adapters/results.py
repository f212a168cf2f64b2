"""Loading positive results and failed assessments (read models kept by ``projections``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from dipflow_ppo_register.domain.panel import AssessmentFailure
from dipflow_ppo_register.domain.positives import PositiveResult, PositiveTest, positive_tests


async def positive_tests_of(
    conn: asyncpg.Connection, person_ids: Sequence[str], until: date
) -> dict[str, list[PositiveTest]]:
    rows = await conn.fetch(
        "SELECT person_id, detention_id, sampled_on, drug, home_area FROM positive_results "
        "WHERE person_id = ANY($1::text[]) AND NOT void AND sampled_on <= $2",
        list(person_ids), until,
    )  # fmt: skip
    results = [
        PositiveResult(r["person_id"], r["detention_id"], r["sampled_on"], r["drug"], r["home_area"])
        for r in rows
    ]
    by_person: dict[str, list[PositiveTest]] = {}
    for test in positive_tests(results):
        by_person.setdefault(test.person_id, []).append(test)
    return by_person


async def failures_of(conn: asyncpg.Connection, person_id: str, until: date) -> list[AssessmentFailure]:
    rows = await conn.fetch(
        "SELECT person_id, assessment_id, occurred_on, outcome FROM assessment_failures "
        "WHERE person_id = $1 AND occurred_on <= $2 ORDER BY occurred_on",
        person_id, until,
    )  # fmt: skip
    return [
        AssessmentFailure(r["person_id"], r["assessment_id"], r["occurred_on"], r["outcome"]) for r in rows
    ]

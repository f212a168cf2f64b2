"""Referral's personal data: detentions, assessments (with their clinical notes) and bail cases name the
person; workers are staff, not subjects."""

from __future__ import annotations

import asyncpg

from dipflow.privacy import Pseudonyms, pseudonymise_rows
from dipflow.privacy.pseudonyms import json_person
from dipflow.privacy.retention import RetentionCutoffs
from dipflow.uow import UnitOfWork

FINISHED = "status IN ('completed', 'failed', 'lapsed', 'ended')"
STATE = json_person("state")  # the assessment's stored state repeats the person id


def _count(result: str) -> int:
    return int(result.rsplit(" ", 1)[-1])


async def erase_person(uow: UnitOfWork, person_id: str, pseudonyms: Pseudonyms) -> dict[str, int]:
    """The person's clinical notes deleted (A8); their detentions, bail cases and assessments pseudonymised."""
    conn = uow.conn
    notes = await conn.execute(
        "DELETE FROM clinical_notes WHERE assessment_id IN "
        "(SELECT assessment_id FROM assessments WHERE person_id = $1)",
        person_id,
    )
    return {
        "clinical_notes": _count(notes),
        **{
            t: await pseudonymise_rows(conn, pseudonyms, t, "person_id = $1", person_id)
            for t in ("detentions", "bail_cases")
        },
        "assessments": await pseudonymise_rows(
            conn, pseudonyms, "assessments", "person_id = $1", person_id, also=STATE
        ),
    }


async def retain(
    conn: asyncpg.Connection, pseudonyms: Pseudonyms, cutoffs: RetentionCutoffs
) -> dict[str, int]:
    """Finished assessments and ended bail cases after ``closed_days`` (clinical notes deleted); detentions
    released after ``closed_days``, or after ``negative_days`` when nothing was positive."""
    closed = cutoffs.closed_before
    finished = f"{FINISHED} AND updated_at < $1"
    notes = await conn.execute(
        f"DELETE FROM clinical_notes WHERE assessment_id IN (SELECT assessment_id FROM assessments WHERE {finished})",
        closed,
    )
    detentions = (
        "released_at < $1 OR (released_at < $2 AND positive_drugs = '{}' AND NOT EXISTS "
        "(SELECT 1 FROM assessments a WHERE a.detention_id = t.detention_id))"
    )
    return {
        "clinical_notes": _count(notes),
        "assessments": await pseudonymise_rows(conn, pseudonyms, "assessments", finished, closed, also=STATE),
        "bail_cases": await pseudonymise_rows(conn, pseudonyms, "bail_cases", "updated_at < $1", closed),
        "detentions": await pseudonymise_rows(
            conn, pseudonyms, "detentions", detentions, closed, cutoffs.negative_before
        ),
    }

"""Named read models of the referral database: the unassigned queue (A9), a worker's inbox and the K4 counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dipflow.uow import UnitOfWork
from dipflow_referral.domain.assessment import Kind, Status
from dipflow_referral.domain.measures import K4Count

OPEN_APPOINTMENTS = [str(Status.proposed), str(Status.imposed), str(Status.follow_up_set)]
IN_AN_INBOX = [
    str(Status.proposed),
    str(Status.imposed),
    str(Status.initial_attended),
    str(Status.follow_up_set),
]


@dataclass(frozen=True)
class Queued:
    assessment_id: str
    kind: Kind
    suite: str
    area: str
    appointment_at: datetime


@dataclass(frozen=True)
class InboxItem:
    assessment_id: str
    kind: Kind
    appointment_at: datetime
    place: str | None
    status: Status
    suite: str
    person_id: str
    overdue: bool = False


async def unassigned(uow: UnitOfWork, area: str | None) -> list[Queued]:
    """A9: appointments of open assessments no worker holds (of ``area`` when given), by time."""
    rows = await uow.conn.fetch(
        "SELECT p.assessment_id, p.kind, a.suite, a.area, p.at FROM appointments p JOIN assessments a "
        "USING (assessment_id) WHERE p.active AND p.worker_id IS NULL AND a.status = ANY($2::text[]) "
        "AND ($1::text IS NULL OR a.area = $1) ORDER BY p.at",
        area,
        OPEN_APPOINTMENTS,
    )
    return [Queued(r["assessment_id"], Kind(r["kind"]), r["suite"], r["area"], r["at"]) for r in rows]


async def inbox(uow: UnitOfWork, worker_id: str, day: date | None, state: Status | None) -> list[InboxItem]:
    """The worker's open appointments (on ``day``, of assessments in ``state``, when given), by time."""
    rows = await uow.conn.fetch(
        "SELECT p.assessment_id, p.kind, p.at, p.place, a.status, a.suite, a.person_id, EXISTS ("
        "  SELECT 1 FROM alerts al WHERE al.kind = 'attendance-overdue' AND al.state <> 'resolved'"
        "  AND al.subject = p.assessment_id || ':' || p.kind) AS overdue FROM appointments p "
        "JOIN assessments a USING (assessment_id) WHERE p.worker_id = $1 AND p.active "
        "AND ($2::date IS NULL OR p.day = $2) AND a.status = ANY($3::text[]) ORDER BY p.at",
        worker_id,
        day,
        [str(state)] if state else IN_AN_INBOX,
    )
    return [
        InboxItem(
            r["assessment_id"],
            Kind(r["kind"]),
            r["at"],
            r["place"],
            Status(r["status"]),
            r["suite"],
            r["person_id"],
            r["overdue"],
        )
        for r in rows
    ]


K4_SQL = """
WITH facts AS (
    SELECT 'tests' AS measure, detention_id, sample_taken_at AS at FROM detentions
     WHERE sample_taken_at IS NOT NULL
    UNION ALL
    SELECT 'positives', detention_id, coalesce(sample_taken_at, arrested_at) FROM detentions
     WHERE cardinality(positive_drugs) > 0
    UNION ALL
    SELECT 'requirements_imposed', detention_id, (state->>'imposed_at')::timestamptz FROM assessments
     WHERE state->>'imposed_at' IS NOT NULL
    UNION ALL
    SELECT 'requirements_lapsed', detention_id, (state->>'released_at')::timestamptz FROM assessments
     WHERE status = 'lapsed'
    UNION ALL
    SELECT CASE WHEN t.outcome = 'attended' THEN t.kind || '_attended' ELSE 'failures' END, a.detention_id,
           t.recorded_at
      FROM attendances t JOIN assessments a USING (assessment_id) WHERE t.outcome = 'attended' OR NOT t.good_cause
    UNION ALL
    SELECT 'entered_treatment', detention_id, (state->>'entered_treatment_at')::timestamptz FROM assessments
     WHERE state->>'entered_treatment_at' IS NOT NULL
)
SELECT f.measure, to_char(f.at AT TIME ZONE 'Europe/London', 'YYYY-MM') AS month, coalesce(a.suite, d.suite) AS suite,
       coalesce(a.area, d.suite_area, d.home_area, 'unknown') AS borough, d.is_ppo,
       coalesce(d.positive_drugs, '{}') AS drugs, count(*) AS n
  FROM facts f JOIN detentions d USING (detention_id) LEFT JOIN assessments a USING (detention_id)
 WHERE (f.at AT TIME ZONE 'Europe/London')::date BETWEEN $1 AND $2 AND coalesce(a.suite, d.suite) IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6
"""


async def k4_counts(uow: UnitOfWork, since: date, until: date) -> list[K4Count]:
    """K4: each measure per month (London), suite and the borough the suite serves, in [since, until]."""
    rows = await uow.conn.fetch(K4_SQL, since, until)
    return [
        K4Count(r["measure"], r["month"], r["borough"], r["suite"], r["n"], r["is_ppo"], tuple(r["drugs"]))
        for r in rows
    ]

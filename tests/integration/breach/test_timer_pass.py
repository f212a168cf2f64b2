"""Breach's timer pass on a real PostgreSQL (D4, D5): the cases and arrest requests its deadlines name are read
and locked at once, each deadline still acts on what the ones before it in the pass did, and the pass's writes
go out together at its end; a case another transaction holds sends the pass one by one, and only that case's
deadlines wait."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from dipflow.events.timers import TimerLoop
from dipflow_breach.contracts.events import PRODUCER
from dipflow_breach.contracts.inbound import ComplianceRecorded
from dipflow_breach.domain.arrests import ArrestPolicy
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_breach.entrypoints.consumers import subscriptions
from dipflow_breach.main import TIMERS
from dipflow_breach.service_layer import cases
from tests.support.batches import apply_batch, one_connection
from tests.support.orders import drr_order

pytestmark = pytest.mark.infra


async def _breach(conn: asyncpg.Connection, person: str, order_id: str) -> None:
    """A warning, then the breach (D3): a case with its two D4 due dates and an arrest request (D5)."""
    made = drr_order(order_id)
    absences = [
        ComplianceRecorded(
            order_id=order_id, record_id=f"{order_id}-{on}", kind=ComplianceKind.unacceptable_absence, on=on
        )
        for on in (date(2008, 3, 5), date(2008, 6, 1))
    ]
    at = datetime(2008, 6, 2, 12, tzinfo=UTC)
    events = [(person, payload, at) for payload in (made, *absences)]
    await apply_batch(conn, subscriptions(ArrestPolicy())[0], events, producer="probation-lambeth")


def _loop(conn: asyncpg.Connection) -> TimerLoop:
    return TimerLoop(
        one_connection(conn),
        TIMERS,
        producer=PRODUCER,
        read_ahead=cases.read_ahead_deadlines,
    )


async def test_d4_d5_a_pass_reads_its_cases_and_requests_once_and_writes_each_once_with_every_step(
    breach_pool: asyncpg.Pool, unique: str
) -> None:
    people = [f"P-{unique}-{n}" for n in range(2)]
    async with breach_pool.acquire() as conn:
        for n, person in enumerate(people):
            await _breach(conn, person, f"DRR-{unique}-{n}")
        await conn.execute("UPDATE deadlines SET due_at = now() - interval '1 minute'")
    statements: list[str] = []
    async with breach_pool.acquire() as conn:
        with conn.query_logger(lambda record: statements.append(record.query)):
            assert await _loop(conn).fire_due() == 6  # two D4 due dates and a D5 target for each person

    escalated = await breach_pool.fetch("SELECT person_id, escalations FROM breach_cases ORDER BY person_id")
    # both steps of a case recorded: the hearing's deadline saw what the enforcement's saved before it
    assert [(r["person_id"], sorted(r["escalations"])) for r in escalated] == [
        (person, ["enforcement", "hearing"]) for person in people
    ]
    assert (
        await breach_pool.fetchval("SELECT count(*) FROM arrest_requests WHERE escalated_at IS NOT NULL") == 2
    )
    notices = await breach_pool.fetch(
        "SELECT kind, count(*) AS n FROM notifications GROUP BY kind ORDER BY kind"
    )
    assert {r["kind"]: r["n"] for r in notices if r["kind"].endswith("_overdue")} == {
        "arrest_overdue": 2,
        "enforcement_overdue": 2,
        "hearing_overdue": 2,
    }
    alerts = await breach_pool.fetch("SELECT kind, state, count(*) AS n FROM alerts GROUP BY kind, state")
    assert sorted((r["kind"], r["state"], r["n"]) for r in alerts) == [
        ("arrest-requested", "escalated", 2),
        ("breach-step-overdue", "open", 4),
    ]

    def sent(text: str) -> int:
        return len([q for q in statements if text in q])

    assert sent("FROM breach_cases WHERE case_id = ANY") == 1
    assert sent("FROM arrest_requests WHERE request_id = ANY") == 1
    assert (
        sent("FROM breach_cases WHERE case_id = $1")
        == sent("FROM arrest_requests WHERE request_id = $1")
        == 0
    )
    assert sent("UPDATE breach_cases") == sent("UPDATE arrest_requests") == 1  # each row once, together
    assert sent("INSERT INTO notifications") == 1
    assert sent("UPDATE alerts SET state = 'escalated'") == 1
    assert sent("SAVEPOINT") == 0


async def test_d4_a_case_another_transaction_holds_waits_and_the_rest_of_the_pass_fires(
    breach_pool: asyncpg.Pool, unique: str
) -> None:
    held, free = f"P-{unique}-held", f"P-{unique}-free"
    async with breach_pool.acquire() as conn:
        await _breach(conn, held, f"DRR-{unique}-held")
        await _breach(conn, free, f"DRR-{unique}-free")
        await conn.execute("UPDATE deadlines SET due_at = now() - interval '1 minute'")
    async with breach_pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM breach_cases WHERE person_id = $1 FOR UPDATE", held)
        async with breach_pool.acquire() as conn:
            assert await _loop(conn).fire_due() == 6
    escalated = await breach_pool.fetch("SELECT person_id, escalations FROM breach_cases ORDER BY person_id")
    assert {r["person_id"]: sorted(r["escalations"]) for r in escalated} == {
        free: ["enforcement", "hearing"],
        held: [],
    }
    waiting = await breach_pool.fetch(
        "SELECT kind, fired_at IS NULL AS waiting, due_at > now() AS put_back FROM deadlines ORDER BY kind, subject"
    )
    assert sum(r["waiting"] for r in waiting) == 2 and all(r["put_back"] for r in waiting if r["waiting"])
    assert (
        await breach_pool.fetchval("SELECT count(*) FROM arrest_requests WHERE escalated_at IS NOT NULL") == 2
    )

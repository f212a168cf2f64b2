"""A batch of probation's records (D1-D4) on a real PostgreSQL: it reads its orders, the outcomes its records
were given before, the orders' warnings and open proceedings once, and each record still decides on what the
records before it in the batch did: a record sent again keeps its first outcome, a warning counts for the next
failure, and a breach opened makes the next failure part of it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from dipflow.events import EventPayload
from dipflow_breach.contracts.inbound import ComplianceRecorded
from dipflow_breach.domain.arrests import ArrestPolicy
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_breach.entrypoints.consumers import subscriptions
from tests.support.batches import apply_batch
from tests.support.orders import drr_order

pytestmark = pytest.mark.infra


def _absence(order_id: str, record_id: str, on: str) -> ComplianceRecorded:
    return ComplianceRecorded(
        order_id=order_id,
        record_id=record_id,
        kind=ComplianceKind.unacceptable_absence,
        on=date.fromisoformat(on),
    )


async def _apply(conn: asyncpg.Connection, person: str, payloads: list[EventPayload]) -> None:
    at = datetime(2008, 7, 1, 12, tzinfo=UTC)
    events = [(person, payload, at) for payload in payloads]
    await apply_batch(conn, subscriptions(ArrestPolicy())[0], events, producer="probation-lambeth")


async def test_d1_d4_a_batch_reads_once_and_each_record_sees_what_the_ones_before_it_did(
    breach_pool: asyncpg.Pool, unique: str
) -> None:
    person, order_id = f"P-{unique}", f"DRR-{unique}"
    made = drr_order(order_id)
    statements: list[str] = []
    async with breach_pool.acquire() as conn:
        with conn.query_logger(lambda record: statements.append(record.query)):
            await _apply(
                conn,
                person,
                [
                    made,
                    _absence(order_id, "r1", "2008-03-05"),  # a warning (D2)
                    _absence(order_id, "r1", "2008-03-05"),  # the same record again: its first outcome
                    _absence(order_id, "r2", "2008-06-01"),  # a failure after the warning: breach (D3)
                    _absence(order_id, "r3", "2008-06-20"),  # while proceedings are open: part of them
                ],
            )
    rows = await breach_pool.fetch("SELECT record_id, decision FROM compliance ORDER BY id")
    assert [tuple(r) for r in rows] == [("r1", "warning"), ("r2", "breach"), ("r3", "added_to_breach")]
    assert await breach_pool.fetchval("SELECT count(*) FROM breach_cases WHERE order_id = $1", order_id) == 1

    def reads(text: str) -> int:
        return len([q for q in statements if text in q])

    assert reads("FROM orders WHERE order_id = ANY") == 1
    assert reads("FROM orders WHERE order_id = $1") == 0
    assert reads("FROM compliance WHERE record_id = $1") == 0
    assert reads("FROM warnings WHERE order_id = $1") == 0
    assert reads("FROM breach_cases WHERE order_id = $1") == 0
    # written with the batch's other writes, in one statement (no booking queued: reading the person's
    # bookings for the breach's arrest request sends nothing ahead of it)
    assert reads("INSERT INTO compliance") == 1


async def test_d3_d5_breaches_of_two_people_in_one_batch_read_the_ppo_copy_once_and_write_together(
    breach_pool: asyncpg.Pool, unique: str
) -> None:
    """Two people each warned and then in breach, in one batch: whether they are PPOs is read once for both,
    and with no booking queued in the batch, reading their bookings sends nothing ahead of it, so each
    table's rows go out together at the batch's end."""
    at = datetime(2008, 7, 1, 12, tzinfo=UTC)
    events = []
    for n in range(2):
        person, order_id = f"P-{unique}-{n}", f"DRR-{unique}-{n}"
        made = drr_order(order_id)
        absences = [_absence(order_id, f"r{n}-1", "2008-03-05"), _absence(order_id, f"r{n}-2", "2008-06-01")]
        events += [(person, payload, at) for payload in (made, *absences)]
    statements: list[str] = []
    async with breach_pool.acquire() as conn:
        with conn.query_logger(lambda record: statements.append(record.query)):
            await apply_batch(conn, subscriptions(ArrestPolicy())[0], events, producer="probation-lambeth")
    assert await breach_pool.fetchval("SELECT count(*) FROM breach_cases") == 2
    assert await breach_pool.fetchval("SELECT count(*) FROM arrest_requests") == 2

    def sent(text: str) -> int:
        return len([q for q in statements if text in q])

    assert sent("FROM ppo_register") == 1
    assert (
        sent("INSERT INTO compliance")
        == sent("INSERT INTO warnings")
        == sent("INSERT INTO notifications")
        == 1
    )

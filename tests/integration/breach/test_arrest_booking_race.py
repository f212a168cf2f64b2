"""D6 when a booking and an arrest request for the same person are written at the same time, on a real
PostgreSQL: whichever transaction commits second sees the other's row, so the booking closes the request. Each
side reads only what was committed when it looks; without a lock between them a request opened while a batch of
bookings is being applied (by probation's consumer, or a compliance record over HTTP: any transaction that opens
one), or a booking applied while a request is being opened, is missed by both. Seen failing without the lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from dipflow.db.appends import Writes
from dipflow.uow import Producer, UnitOfWork
from dipflow_breach.contracts.consumed import BookedInView, FailureNotifiedView
from dipflow_breach.domain.arrests import ArrestPolicy, RequestArrest, Source
from dipflow_breach.entrypoints.consumers import subscriptions
from dipflow_breach.service_layer import arrests
from tests.support.batches import Event, apply_batch

pytestmark = pytest.mark.infra

POLICY = ArrestPolicy()
REQUESTED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ARRESTED_AT = REQUESTED_AT + timedelta(hours=3)


def _wanted(person: str) -> RequestArrest:
    return RequestArrest(
        person_id=person,
        source=Source.bail_condition,
        source_ref=f"D-{person}",
        area="lambeth",
        requested_at=REQUESTED_AT,
    )


async def _open_request(conn: asyncpg.Connection, person: str) -> None:
    uow = UnitOfWork(Writes(conn, appends_at_end=True), Producer("breach", "breach.events.v1"))
    await arrests.request_arrest(uow, _wanted(person), POLICY)
    await uow.flush()


def _booked(person: str, arrested_at: datetime = ARRESTED_AT) -> Event:
    return (
        person,
        BookedInView(detention_id=f"B-{person}", arrested_at=arrested_at, home_area="lambeth"),
        arrested_at,
    )


async def _apply(conn: asyncpg.Connection, events: list[Event]) -> None:
    """``events`` applied as one batch of the events subscription, in a transaction of their own."""
    await apply_batch(conn, subscriptions(POLICY)[1], events, producer="custody")


async def _waits_or_ends(pool: asyncpg.Pool, conn: asyncpg.Connection, task: asyncio.Task[None]) -> None:
    """Until ``task`` on ``conn`` has ended or waits for a lock."""
    pid = conn.get_server_pid()
    async with asyncio.timeout(10):
        while not task.done():
            waiting = await pool.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid)
            if waiting == "Lock":
                return
            await asyncio.sleep(0.01)


Side = Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]


@pytest.mark.parametrize("first", ["request", "booking"])
async def test_d6_a_booking_and_a_request_written_at_the_same_time_still_meet(
    breach_pool: asyncpg.Pool, first: str, unique: str
) -> None:
    person, other = f"P-{unique}-1", f"P-{unique}-0"
    request: Side = lambda conn: _open_request(conn, person)  # noqa: E731
    booking: Side = lambda conn: _apply(conn, [_booked(person), _booked(other)])  # noqa: E731
    first_side, second_side = (request, booking) if first == "request" else (booking, request)
    async with breach_pool.acquire() as one, breach_pool.acquire() as two:
        held = one.transaction()
        await held.start()
        await first_side(one)  # written, not yet committed
        second = asyncio.create_task(second_side(two))
        await _waits_or_ends(breach_pool, two, second)
        await held.commit()
        await second
    row = await breach_pool.fetchrow(
        "SELECT arrested_at, arrest_detention_id FROM arrest_requests WHERE person_id = $1", person
    )
    assert (row["arrested_at"], row["arrest_detention_id"]) == (ARRESTED_AT, f"B-{person}")


async def test_d6_a_batch_reads_its_peoples_open_requests_once_and_sees_those_it_opens_and_closes(
    breach_pool: asyncpg.Pool, unique: str
) -> None:
    people = [f"P-{unique}-{n}" for n in range(3)]
    async with breach_pool.acquire() as conn:
        for person in people[:2]:
            async with conn.transaction():
                await _open_request(conn, person)
        failure = FailureNotifiedView(assessment_id=f"A-{unique}", offence="DA05 s.12(3)", area="lambeth")
        statements: list[str] = []
        with conn.query_logger(lambda record: statements.append(record.query)):
            await _apply(
                conn,
                [
                    _booked(people[0]),
                    _booked(
                        people[0], ARRESTED_AT + timedelta(hours=1)
                    ),  # the same person again: closed already
                    _booked(people[1]),
                    (people[2], failure, REQUESTED_AT),
                    _booked(people[2]),  # closes the request the batch opened
                ],
            )
    rows = await breach_pool.fetch(
        "SELECT person_id, arrest_detention_id FROM arrest_requests ORDER BY person_id"
    )
    assert [tuple(r) for r in rows] == [(p, f"B-{p}") for p in people]
    assert len([q for q in statements if "FROM arrest_requests" in q]) == 1
    assert len([q for q in statements if "pg_advisory_xact_lock" in q]) == 1

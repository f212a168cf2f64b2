"""A9's assignment locks against real PostgreSQL: assignments that could give the same worker a slot wait for each
other, those no worker links do not, a change of who covers a suite waits for the assignments there, and a
consumer's batch takes the locks of every suite it may assign at before its first fact.

Whether a lock is free is asked with a ``lock_timeout``: a second transaction that would wait fails at once with
``LockNotAvailableError`` instead, so no test depends on how long anything takes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from dipflow.db import apply_migrations, load_migrations
from dipflow.db.appends import Writes
from dipflow.events import new_envelope
from dipflow.uow import Producer, UnitOfWork
from dipflow_custody.contracts.events import ResultRecorded, SampleDispatched
from dipflow_referral.adapters import workers
from dipflow_referral.contracts.consumed import CONSUMED
from dipflow_referral.domain.assignment import StaffMember
from dipflow_referral.entrypoints.consumers import hold_assigning_suites

PRODUCER = Producer("referral", "referral.events.v1")
AT = datetime(2026, 11, 30, 10, tzinfo=UTC)


@asynccontextmanager
async def transaction(dsn: str) -> AsyncIterator[UnitOfWork]:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '200ms'")
            yield UnitOfWork(Writes(conn), PRODUCER)
    finally:
        await conn.close()


@pytest.fixture
async def dsn(database_dsn: str) -> str:
    """The referral database with W-A covering S-A, W-B covering S-B, W-CD covering S-C and S-D (S-E: nobody)."""
    conn = await asyncpg.connect(database_dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await apply_migrations(conn, load_migrations("dipflow_referral.migrations"))
        uow = UnitOfWork(Writes(conn), PRODUCER)
        for worker_id, suites in (("W-A", ("S-A",)), ("W-B", ("S-B",)), ("W-CD", ("S-C", "S-D"))):
            await workers.put(
                uow, StaffMember(worker_id, worker_id, "lambeth", suites, 5, (0, 1, 2, 3, 4), True)
            )
    finally:
        await conn.close()
    return database_dsn


async def could(dsn: str, take: Callable[[UnitOfWork], Awaitable[object]]) -> bool:
    """Whether another transaction could ``take`` its locks now (and then lets them go)."""
    try:
        async with transaction(dsn) as uow:
            await take(uow)
    except asyncpg.LockNotAvailableError:
        return False
    return True


async def assigns_now(dsn: str, suites: Collection[str]) -> bool:
    return await could(dsn, lambda uow: workers.lock_assignments(uow, suites))


async def changes_now(dsn: str, suites: Collection[str]) -> bool:
    """Whether another transaction could change who covers ``suites`` now."""
    return await could(dsn, lambda uow: workers.lock_suites_for_change(uow, suites))


async def test_a9_assignments_at_suites_no_worker_links_run_side_by_side(dsn: str) -> None:
    async with transaction(dsn) as uow:
        await workers.lock_assignments(uow, ["S-A"])
        side_by_side = [await assigns_now(dsn, [s]) for s in ("S-B", "S-C", "S-E")]
        same_suite = await assigns_now(dsn, ["S-A"])
    assert side_by_side == [True, True, True]
    assert same_suite is False


async def test_a9_assignments_at_two_suites_one_worker_covers_wait_for_each_other(dsn: str) -> None:
    async with transaction(dsn) as uow:
        await workers.lock_assignments(uow, ["S-C"])
        assert await assigns_now(dsn, ["S-D"]) is False
    assert await assigns_now(dsn, ["S-D"]) is True


async def test_a9_a_change_of_who_covers_a_suite_waits_for_the_assignments_there(dsn: str) -> None:
    async with transaction(dsn) as uow:
        await workers.lock_assignments(uow, ["S-E"])  # nobody covers it yet: a worker may be added meanwhile
        assert await changes_now(dsn, ["S-E"]) is False
        assert await changes_now(dsn, ["S-B"]) is True
        assert await assigns_now(dsn, ["S-E"]) is True  # assignments share the suite
    async with transaction(dsn) as uow:
        await workers.lock_suites_for_change(uow, ["S-B"])
        assert await assigns_now(dsn, ["S-B"]) is False
        assert await assigns_now(dsn, ["S-A"]) is True


async def test_a9_a_worker_recording_leave_waits_for_an_assignment_to_them(dsn: str) -> None:
    async with transaction(dsn) as uow:
        await workers.lock_assignments(uow, ["S-A"])
        leave_waited = not await could(dsn, lambda other: workers.area_of(other, "W-A", lock=True))
    assert leave_waited


async def test_a9_a_custody_batch_holds_the_suites_it_may_assign_at_before_its_first_fact(dsn: str) -> None:
    def result(detention_id: str, suite: str, value: str) -> ResultRecorded:
        return ResultRecorded(
            detention_id=detention_id,
            suite=suite,
            drug="cocaine",
            result=value,
            disputed=False,
            medication_declared=None,
            confirmation_required=False,
            age=30,
            home_area="lambeth",
        )

    facts = [
        result("D-1", "S-A", "positive"),
        result("D-2", "S-B", "negative"),
        SampleDispatched(detention_id="D-3", suite="S-E", drugs=["cocaine"], confirmation_due_at=AT),
    ]
    events = [
        CONSUMED.parse(new_envelope(f, person_id="P-1", producer="custody", occurred_at=AT).to_bytes())
        for f in facts
    ]
    async with transaction(dsn) as uow:
        await hold_assigning_suites(uow, events)
        held = {s: not await changes_now(dsn, [s]) for s in ("S-A", "S-B", "S-E")}
        assert await assigns_now(dsn, ["S-B"]) is True
        assert await assigns_now(dsn, ["S-A"]) is False
    assert held == {"S-A": True, "S-B": False, "S-E": True}

"""The consumer's batch scope (dipflow.db.appends) on a real PostgreSQL: rows queued in a batch reach the tables
in the order they were queued, once, inside the batch's transaction; nothing outside a scope is deferred."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from dipflow.audit import Audit
from dipflow.auth import Principal, Role
from dipflow.db.appends import batch_memo, batched_appends, flush_appends, queue_write
from dipflow.events.outbox import add_to_outbox, add_tombstone
from tests.support.events import sample_event

pytestmark = pytest.mark.infra


@pytest.fixture(autouse=True)
async def notes_table(service_pool: asyncpg.Pool) -> None:
    await service_pool.execute("CREATE TABLE notes (k uuid PRIMARY KEY, note text NOT NULL)")


def _audit(pool: asyncpg.Pool) -> Audit:
    return Audit(pool=pool, principal=Principal(subject="t", role=Role.admin, area="*"), correlation_id="c-1")


async def _outbox(conn: asyncpg.Connection) -> list[tuple[str, bytes | None]]:
    return [(r["topic"], r["value"]) for r in await conn.fetch("SELECT topic, value FROM outbox ORDER BY id")]


async def test_outbox_and_audit_rows_of_a_batch_are_written_at_its_end_in_the_order_queued(
    service_pool: asyncpg.Pool,
) -> None:
    envelopes = [sample_event(n, f"L-{n}") for n in range(5)]
    audit = _audit(service_pool)
    async with service_pool.acquire() as conn, conn.transaction():
        async with batched_appends(conn):
            await add_to_outbox(conn, "t.a", envelopes[:2])
            await audit.record("first", "L-0", conn=conn)
            await add_tombstone(conn, "t.b", "L-9")
            await add_to_outbox(conn, "t.a", envelopes[2:])
            await audit.record("second", "L-1", conn=conn, detail={"k": 1})
            assert await _outbox(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0
        rows = await _outbox(conn)
    assert [t for t, _ in rows] == ["t.a", "t.a", "t.b", "t.a", "t.a", "t.a"]
    assert rows[2][1] is None
    assert [v for _, v in rows if v is not None] == [e.to_bytes() for e in envelopes]
    audits = await service_pool.fetch("SELECT action, person_id, detail FROM audit_log ORDER BY id")
    assert [(a["action"], a["person_id"], a["detail"]) for a in audits] == [
        ("first", "L-0", {}),
        ("second", "L-1", {"k": 1}),
    ]


async def test_a_batch_that_raises_writes_none_of_its_queued_rows(service_pool: asyncpg.Pool) -> None:
    with pytest.raises(RuntimeError):
        async with service_pool.acquire() as conn, conn.transaction(), batched_appends(conn):
            await add_to_outbox(conn, "t.a", [sample_event(1)])
            await queue_write(conn, "INSERT INTO notes (k, note) VALUES ($1, 'x')", uuid.uuid4())
            raise RuntimeError("handler failed")
    assert await service_pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await service_pool.fetchval("SELECT count(*) FROM notes") == 0


async def test_queued_writes_keep_their_order_across_statements_and_flush_before_a_read(
    service_pool: asyncpg.Pool,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    insert = "INSERT INTO notes (k, note) VALUES ($1, $2)"
    update = "UPDATE notes SET note = note || $2 WHERE k = $1"
    async with service_pool.acquire() as conn, conn.transaction(), batched_appends(conn):
        await queue_write(conn, insert, first, "a")
        await queue_write(conn, insert, second, "b")
        await queue_write(conn, update, first, "+1")
        await queue_write(conn, update, first, "+2")
        await queue_write(conn, insert.replace("$2)", "$2) ON CONFLICT DO NOTHING"), first, "again")
        await queue_write(conn, update, second, "+3")
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
        await flush_appends(conn)
        notes = {r["k"]: r["note"] for r in await conn.fetch("SELECT k, note FROM notes")}
        assert notes == {first: "a+1+2", second: "b+3"}
        await queue_write(conn, update, second, "+4")
    assert await service_pool.fetchval("SELECT note FROM notes WHERE k = $1", second) == "b+3+4"


async def test_outside_a_batch_nothing_is_deferred_and_there_is_no_memo(service_pool: asyncpg.Pool) -> None:
    async with service_pool.acquire() as conn, conn.transaction():
        await add_to_outbox(conn, "t.a", [sample_event(1)])
        await queue_write(conn, "INSERT INTO notes (k, note) VALUES ($1, 'now')", uuid.uuid4())
        await _audit(service_pool).record("now", conn=conn)
        assert len(await _outbox(conn)) == 1
        assert await conn.fetchval("SELECT count(*) FROM notes") == 1
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1
        assert batch_memo(conn) is None


async def test_a_scope_belongs_to_its_connection_and_its_memo_to_the_batch(
    service_pool: asyncpg.Pool,
) -> None:
    async with service_pool.acquire() as conn, service_pool.acquire() as other, conn.transaction():
        async with batched_appends(conn):
            memo = batch_memo(conn)
            assert memo is not None
            memo["k"] = 1
            assert batch_memo(other) is None
            await add_to_outbox(other, "t.other", [sample_event(2)])
            assert len(await _outbox(other)) == 1
        async with batched_appends(conn):
            assert batch_memo(conn) == {}

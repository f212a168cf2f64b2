"""A consumer's batched writes (dipflow.db.appends.Writes through a unit of work) on a real PostgreSQL: rows
queued in a batch reach the tables in the order they were queued, once, inside the batch's transaction; nothing
outside a batch is deferred."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from dipflow.auth import Principal, Role
from dipflow.db.appends import Writes, batched_writes
from dipflow.events.deadlines import cancel_deadline, schedule_deadline
from dipflow.events.outbox import add_to_outbox
from dipflow.events.timers import Deadline, TimerLoop
from dipflow.uow import Producer, UnitOfWork, unit_of_work
from tests.support.batches import one_connection
from tests.support.events import sample_event

pytestmark = pytest.mark.infra


@pytest.fixture(autouse=True)
async def notes_table(service_pool: asyncpg.Pool) -> None:
    await service_pool.execute("CREATE TABLE notes (k uuid PRIMARY KEY, note text NOT NULL)")


def _work(writes: Writes) -> UnitOfWork:
    actor = Principal(subject="t", role=Role.admin, area="*")
    return UnitOfWork(writes, Producer("t", "t.a"), correlation_id="c-1", actor=actor)


async def _outbox(conn: asyncpg.Connection) -> list[tuple[str, bytes | None]]:
    return [(r["topic"], r["value"]) for r in await conn.fetch("SELECT topic, value FROM outbox ORDER BY id")]


async def test_outbox_and_audit_rows_of_a_batch_are_written_at_its_end_in_the_order_queued(
    service_pool: asyncpg.Pool,
) -> None:
    envelopes = [sample_event(n, f"L-{n}") for n in range(5)]
    async with service_pool.acquire() as conn, conn.transaction():
        async with batched_writes(conn) as writes:
            uow = _work(writes)
            await add_to_outbox(writes, "t.a", envelopes[:2])
            await uow.audit("first", "L-0")
            await uow.tombstone("t.b", "L-9")
            await add_to_outbox(writes, "t.a", envelopes[2:])
            await uow.audit("second", "L-1", {"k": 1})
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
        async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
            await add_to_outbox(writes, "t.a", [sample_event(1)])
            await writes.execute("INSERT INTO notes (k, note) VALUES ($1, 'x')", uuid.uuid4())
            raise RuntimeError("handler failed")
    assert await service_pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await service_pool.fetchval("SELECT count(*) FROM notes") == 0


async def test_queued_writes_keep_their_order_across_statements_and_flush_before_a_read(
    service_pool: asyncpg.Pool,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    insert = "INSERT INTO notes (k, note) VALUES ($1, $2)"
    update = "UPDATE notes SET note = note || $2 WHERE k = $1"
    async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
        await writes.execute(insert, first, "a")
        await writes.execute(insert, second, "b")
        await writes.execute(update, first, "+1")
        await writes.execute(update, first, "+2")
        await writes.execute(insert.replace("$2)", "$2) ON CONFLICT DO NOTHING"), first, "again")
        await writes.execute(update, second, "+3")
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
        await writes.flush()
        notes = {r["k"]: r["note"] for r in await conn.fetch("SELECT k, note FROM notes")}
        assert notes == {first: "a+1+2", second: "b+3"}
        await writes.execute(update, second, "+4")
    assert await service_pool.fetchval("SELECT note FROM notes WHERE k = $1", second) == "b+3+4"


async def test_a_statement_queued_again_under_its_key_replaces_the_earlier_one(
    service_pool: asyncpg.Pool,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    await service_pool.executemany("INSERT INTO notes (k, note) VALUES ($1, '')", [(first,), (second,)])
    update = "UPDATE notes SET note = note || $2 WHERE k = $1"
    async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
        await writes.execute_last(first, update, first, "v1")
        await writes.execute_last(second, update, second, "w1")
        await writes.execute_last(first, update, first, "v2")
        await writes.execute(update, second, "+after")
        assert await conn.fetchval("SELECT string_agg(note, '') FROM notes") == ""
    notes = {r["k"]: r["note"] for r in await service_pool.fetch("SELECT k, note FROM notes")}
    assert notes == {first: "v2", second: "w1+after"}


async def test_unordered_statements_of_one_text_are_written_together_before_the_ordered_ones(
    service_pool: asyncpg.Pool,
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    upsert = (
        "INSERT INTO notes (k, note) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET note = notes.note || $2"
    )
    other = "INSERT INTO notes (k, note) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
        await writes.execute("UPDATE notes SET note = note || '!' WHERE k = $1", first)
        await writes.execute_unordered(upsert, first, "a")
        await writes.execute_unordered(other, second, "x")
        await writes.execute_unordered(upsert, first, "b")
        await writes.execute_unordered(other, second, "ignored")
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
    notes = {r["k"]: r["note"] for r in await service_pool.fetch("SELECT k, note FROM notes")}
    assert notes == {first: "ab!", second: "x"}


async def test_work_several_events_ask_for_runs_once_at_the_batch_end_with_all_they_asked_for(
    service_pool: asyncpg.Pool,
) -> None:
    asked: list[list[str]] = []

    async def note_all(items: list[str]) -> None:
        asked.append(items)
        await writes.execute("INSERT INTO notes (k, note) VALUES ($1, $2)", uuid.uuid4(), ",".join(items))

    async with service_pool.acquire() as conn, conn.transaction():
        async with batched_writes(conn) as writes:
            uow = _work(writes)
            await uow.at_end("k", "a", note_all)
            await uow.at_end("other", "c", note_all)
            with pytest.raises(RuntimeError):
                async with uow.savepoint():
                    await uow.at_end("k", "rolled back", note_all)
                    await uow.at_end("new", "rolled back", note_all)
                    raise RuntimeError("one event failed")
            await uow.at_end("k", "b", note_all)
            assert asked == []
        assert asked == [["a", "b"], ["c"]]
        assert sorted(r["note"] for r in await conn.fetch("SELECT note FROM notes")) == ["a,b", "c"]
        await _work(Writes(conn)).at_end("k", "now", note_all)
        assert asked[-1] == ["now"]


async def test_outside_a_batch_nothing_is_deferred(service_pool: asyncpg.Pool) -> None:
    async with service_pool.acquire() as conn, conn.transaction():
        uow = _work(Writes(conn))
        await add_to_outbox(uow.writes, "t.a", [sample_event(1)])
        await uow.execute("INSERT INTO notes (k, note) VALUES ($1, 'now')", uuid.uuid4())
        await uow.audit("now")
        assert len(await _outbox(conn)) == 1
        assert await conn.fetchval("SELECT count(*) FROM notes") == 1
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_a_batch_belongs_to_its_connection_and_its_memo_to_the_batch(
    service_pool: asyncpg.Pool,
) -> None:
    async with service_pool.acquire() as conn, service_pool.acquire() as other, conn.transaction():
        async with batched_writes(conn) as writes:
            writes.memo["k"] = 1
            await add_to_outbox(Writes(other), "t.other", [sample_event(2)])
            assert len(await _outbox(other)) == 1
        async with batched_writes(conn) as next_batch:
            assert next_batch.memo == {}


async def test_deadlines_scheduled_and_cancelled_in_a_batch_end_as_if_written_one_after_another(
    service_pool: asyncpg.Pool,
) -> None:
    """The same deadline scheduled twice in a run (the later values win), cancelled twice, a fired deadline
    left alone, a deadline scheduled again after a run of cancels; one already kept cancelled and scheduled
    again; scheduled, cancelled and scheduled again; and that, cancelled once more. (Only each deadline's
    last scheduling and last cancel are written.)"""
    fired_due = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await service_pool.execute(
        "INSERT INTO deadlines (kind, subject, due_at, fired_at) VALUES ('k', 'fired', $1, now())", fired_due
    )
    due = datetime(2026, 12, 24, 9, tzinfo=UTC)
    await service_pool.execute("INSERT INTO deadlines (kind, subject, due_at) VALUES ('k', 'kept', $1)", due)
    async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
        for subject, hours in [("a", 0), ("b", 0), ("a", 1), ("fired", 5), ("c", 0)]:
            await schedule_deadline(writes, "k", subject, due + timedelta(hours=hours), {"h": hours})
        for subject in ["b", "b", "fired"]:
            await cancel_deadline(writes, "k", subject)
        await schedule_deadline(writes, "k", "c", due + timedelta(hours=2), {"h": 2})
        await cancel_deadline(writes, "k", "kept")
        await schedule_deadline(writes, "k", "kept", due + timedelta(hours=3), {"h": 3})
        for subject in ("again", "again and cancelled"):
            await schedule_deadline(writes, "k", subject, due, {"h": 0})
            await cancel_deadline(writes, "k", subject)
            await schedule_deadline(writes, "k", subject, due + timedelta(hours=4), {"h": 4})
        await cancel_deadline(writes, "k", "again and cancelled")
    rows = {
        r["subject"]: (r["due_at"], r["payload"], r["cancelled_at"] is not None)
        for r in await service_pool.fetch("SELECT subject, due_at, payload, cancelled_at FROM deadlines")
    }
    assert rows == {
        "a": (due + timedelta(hours=1), {"h": 1}, False),
        "b": (due, {"h": 0}, True),
        "c": (due + timedelta(hours=2), {"h": 2}, False),
        "fired": (fired_due, {}, False),
        "kept": (due + timedelta(hours=3), {"h": 3}, False),
        "again": (due + timedelta(hours=4), {"h": 4}, False),
        "again and cancelled": (due + timedelta(hours=4), {"h": 4}, True),
    }


async def test_a_failed_nested_block_forgets_what_was_read_with_what_it_wrote(
    service_pool: asyncpg.Pool,
) -> None:
    """An aggregate read ahead and saved inside a savepoint that rolls back must be read again afterwards."""
    async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
        uow = _work(writes)
        uow.memo["read ahead"] = "as saved inside the block"
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                raise RuntimeError("the block failed")
        assert uow.memo == {}


async def test_a_requests_unit_of_work_writes_its_appends_in_one_statement_when_it_ends(
    service_pool: asyncpg.Pool,
) -> None:
    heard: list[str] = []

    def hear(_conn: object, _pid: int, channel: str, _payload: str) -> None:
        heard.append(channel)

    listener = await service_pool.acquire()
    await listener.add_listener("dipflow_outbox", hear)
    try:
        statements: list[str] = []
        async with unit_of_work(
            service_pool, Producer("t", "t.a"), actor=Principal("t", Role.admin, "*")
        ) as uow:
            uow.conn.add_query_logger(lambda record: statements.append(record.query))
            await add_to_outbox(uow.writes, "t.a", [sample_event(1)])
            await uow.audit("first", "L-1", {"k": 1})
            await add_to_outbox(uow.writes, "t.a", [sample_event(2)])
            await uow.notify("dipflow_deadlines", "k")
            assert statements == []
            assert await _outbox(uow.conn) == []
        writing = [q for q in statements if "INSERT" in q or "NOTIFY" in q.upper()]
        assert len(writing) == 1  # one statement for the outbox rows, the audit row and the wake-ups
        assert "INSERT INTO outbox" in writing[0] and "INSERT INTO audit_log" in writing[0]
        assert statements[-1] == "COMMIT;"
        async with service_pool.acquire() as conn:
            rows = await _outbox(conn)
            audits = await conn.fetch("SELECT action, detail FROM audit_log")
        assert [t for t, _ in rows] == ["t.a", "t.a"]
        assert [(a["action"], a["detail"]) for a in audits] == [("first", {"k": 1})]
        await listener.execute("SELECT 1")  # a notification arrives before the answer that follows it
        assert heard == ["dipflow_outbox"]
    finally:
        await listener.remove_listener("dipflow_outbox", hear)
        await service_pool.release(listener)


async def test_a_requests_unit_of_work_that_raises_writes_none_of_its_appends(
    service_pool: asyncpg.Pool,
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(service_pool, Producer("t", "t.a")) as uow:
            await add_to_outbox(uow.writes, "t.a", [sample_event(1)])
            await uow.audit("first", "L-1")
            raise RuntimeError("the request failed")
    async with service_pool.acquire() as conn:
        assert await _outbox(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_a_timer_pass_writes_the_appends_of_the_deadlines_it_fired_in_one_statement_at_its_end(
    service_pool: asyncpg.Pool,
) -> None:
    """Three deadlines due: the first and third handlers emit an event and audit; the second does the same and
    then fails. One statement at the pass's end writes the first's and third's rows, in order; the second's
    are gone with its savepoint, and it is counted as a failed attempt."""
    async with service_pool.acquire() as conn:
        for n in (1, 2, 3):
            due = datetime.now(UTC) - timedelta(minutes=10 - n)
            await schedule_deadline(Writes(conn), "step", f"S{n}", due)

    emitted: dict[int, bytes] = {}

    async def emit(uow: UnitOfWork, deadline: Deadline) -> None:
        n = int(deadline.subject[1:])
        event = sample_event(n)
        emitted[n] = event.to_bytes()
        await add_to_outbox(uow.writes, "t.a", [event])
        await uow.audit("fired", deadline.subject, {"n": n})
        if n == 2:
            raise ValueError("this handler fails after writing")

    statements: list[str] = []

    def log(record: asyncpg.connection.LoggedQuery) -> None:
        statements.append(record.query)

    async with service_pool.acquire() as conn:
        conn.add_query_logger(log)
        loop = TimerLoop(one_connection(conn), {"step": emit}, producer=Producer("t", "t.a"))
        assert await loop.fire_due() == 3
        conn.remove_query_logger(log)
    appends = [q for q in statements if "INSERT INTO outbox" in q or "INSERT INTO audit_log" in q]
    assert len(appends) == 1 and "INSERT INTO audit_log" in appends[0]
    async with service_pool.acquire() as conn:
        rows = await conn.fetch("SELECT value FROM outbox ORDER BY id")
        audits = await conn.fetch("SELECT person_id, detail FROM audit_log ORDER BY id")
        failed = await conn.fetchrow("SELECT attempts, fired_at FROM deadlines WHERE subject = 'S2'")
    assert [r["value"] for r in rows] == [emitted[1], emitted[3]]
    assert [(a["person_id"], a["detail"]) for a in audits] == [("S1", {"n": 1}), ("S3", {"n": 3})]
    assert failed["attempts"] == 1 and failed["fired_at"] is None
    assert loop.fired == 2


async def test_a_batch_asks_whether_an_area_has_a_webhook_receiver_once_and_sees_one_it_set(
    service_pool: asyncpg.Pool,
) -> None:
    from dipflow.alerts.store import DELIVERIES

    statements: list[str] = []
    async with service_pool.acquire() as conn, conn.transaction():
        conn.add_query_logger(lambda record: statements.append(record.query))
        async with batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("test", "test.events.v1"))
            asked = [await DELIVERIES.has_receiver(uow, area) for area in ("a", "a", "b", "a")]
            await DELIVERIES.set_receiver(uow, "b", "https://b.example/hook", "s" * 32)
            asked.append(await DELIVERIES.has_receiver(uow, "b"))
    assert asked == [False, False, False, False, True]
    assert len([q for q in statements if "FROM alert_receivers" in q]) == 2


async def test_a_timer_pass_shares_what_its_deadlines_read_until_one_fails(
    service_pool: asyncpg.Pool,
) -> None:
    """Four deadlines each ask whether an area has a webhook receiver. The pass made all together stops at the
    third, which fails, and is made again one by one: the second finds the first's answer; the third notes
    something and fails, so the fourth reads again and finds nothing the third noted."""
    from dipflow.alerts.store import DELIVERIES

    async with service_pool.acquire() as conn:
        for n in (1, 2, 3, 4):
            due = datetime.now(UTC) - timedelta(minutes=10 - n)
            await schedule_deadline(Writes(conn), "ask", f"S{n}", due)

    seen: dict[int, object] = {}

    async def ask(uow: UnitOfWork, deadline: Deadline) -> None:
        n = int(deadline.subject[1:])
        await DELIVERIES.has_receiver(uow, "a")
        seen[n] = uow.memo.get("noted")
        if n == 3:
            uow.memo["noted"] = "by a handler that failed"
            raise ValueError("this handler fails after reading")

    statements: list[str] = []
    async with service_pool.acquire() as conn:
        loop = TimerLoop(one_connection(conn), {"ask": ask}, producer=Producer("t", "t.a"))
        with conn.query_logger(lambda record: statements.append(record.query)):
            assert await loop.fire_due() == 4
    assert len([q for q in statements if "FROM alert_receivers" in q]) == 1 + 2  # together, then one by one
    assert seen == {1: None, 2: None, 3: None, 4: None}
    assert loop.fired == 3


async def test_a_timer_pass_fires_its_deadlines_together_each_seeing_what_the_one_before_wrote(
    service_pool: asyncpg.Pool,
) -> None:
    """Three deadlines each queue a note and read how many notes there are: each counts the notes of those
    before it, no savepoint is taken, the three are marked fired in one statement and their notes written once."""
    async with service_pool.acquire() as conn:
        for n in (1, 2, 3):
            await schedule_deadline(
                Writes(conn), "note", f"S{n}", datetime.now(UTC) - timedelta(minutes=10 - n)
            )
    counted: list[int] = []

    async def note(uow: UnitOfWork, deadline: Deadline) -> None:
        counted.append(await uow.conn.fetchval("SELECT count(*) FROM notes"))
        await uow.writes.execute(
            "INSERT INTO notes (k, note) VALUES ($1, $2)", uuid.uuid4(), deadline.subject
        )
        await add_to_outbox(uow.writes, "t.a", [sample_event(int(deadline.subject[1:]))])

    statements: list[str] = []
    async with service_pool.acquire() as conn:
        loop = TimerLoop(one_connection(conn), {"note": note}, producer=Producer("t", "t.a"))
        with conn.query_logger(lambda record: statements.append(record.query)):
            assert await loop.fire_due() == 3
        notes = [r["note"] for r in await conn.fetch("SELECT note FROM notes ORDER BY note")]
        pending = await conn.fetchval(
            "SELECT count(*) FROM deadlines WHERE kind = 'note' AND fired_at IS NULL"
        )
    assert counted == [0, 1, 2]
    assert notes == ["S1", "S2", "S3"] and pending == 0 and loop.fired == 3
    assert not [q for q in statements if "SAVEPOINT" in q]
    assert len([q for q in statements if q.startswith("UPDATE deadlines SET fired_at")]) == 1
    assert len([q for q in statements if "INSERT INTO outbox" in q]) == 1

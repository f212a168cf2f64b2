"""The same commands as messages on custody.commands.v1, for custody systems that prefer Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from dipflow.db import connect_pool
from dipflow.db.database import server_dsn
from dipflow.devstack.principals import CUSTODY_SYSTEM
from dipflow.events import Envelope, EventPayload, new_envelope
from dipflow.events.consumer import Parsed, apply_events
from dipflow.events.senders import signed_headers
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import CUSTODY_COMMANDS
from dipflow.uow import Producer
from dipflow_custody.contracts.bodies import BookIn
from dipflow_custody.contracts.consumed import RequirementImposedView, RequirementProposedView
from dipflow_custody.contracts.inbound import BookInCommand, DetentionCommand, detention_id_for
from dipflow_custody.entrypoints.commands import command_handler, read_ahead
from tests.infra import Infra
from tests.integration.custody.test_custody_api import bearer, book_in_body, custody, events_for, person
from tests.support.senders import COMMAND_SENDERS, ELSEWHERE, KEY, signed

__all__ = ["custody"]


def command(payload: EventPayload, pid: str) -> Envelope:
    return new_envelope(
        payload, person_id=pid, producer="suite-system-brixton", occurred_at=datetime.now(UTC)
    )


async def send(infra: Infra, *envelopes: Envelope, key: str = KEY) -> None:
    """Each envelope signed by its producer with ``key``, as a custody system's principal."""
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_as(CUSTODY_SYSTEM)))
    await producer.start()
    try:
        for e in envelopes:
            await producer.send_and_wait(
                CUSTODY_COMMANDS.name, e.to_bytes(), key=e.key, headers=signed(e, key)
            )
    finally:
        await producer.stop()


async def dead_letters_for(infra: Infra, pid: str, want: int) -> list[dict[str, str]]:
    consumer = AIOKafkaConsumer(
        CUSTODY_COMMANDS.name + ".dlq",
        **kafka_consumer_options(infra.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found += [{k: v.decode() for k, v in r.headers} for r in records if r.key == pid.encode()]
    finally:
        await consumer.stop()
    return found


async def apply_in_one_batch(conn: asyncpg.Connection, batch: list[Parsed]) -> int:
    """``batch`` applied by the commands subscription's handler, read ahead as it reads them; how many applied."""
    applied, _ = await apply_events(
        conn,
        "t",
        batch,
        command_handler(2, COMMAND_SENDERS),
        Producer("custody", "x"),
        read_ahead,
    )
    return applied


async def test_commands_on_the_topic_book_in_warn_and_sample_once_each(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    book = command(BookInCommand(body=BookIn.model_validate(book_in_body(pid))), pid)
    did = detention_id_for(book.event_id)
    warn = command(
        DetentionCommand(detention_id=did, action="warning", body={"at": "2008-06-01T10:40:00Z"}), pid
    )
    sample = command(
        DetentionCommand(detention_id=did, action="sample", body={"at": "2008-06-01T10:45:00Z"}), pid
    )
    await send(infra, book, book, warn, sample)  # the book-in is sent twice, as a retrying system would

    # the hold-for-sample timer of a 2008 arrest falls due at once, so its deadline_passed may come at any point
    events = await events_for(infra, pid, 6, timeout_s=60, ignoring=frozenset({"custody.deadline_passed"}))
    assert [e["type"] for e in events] == [
        "custody.booked_in",
        "custody.offence_added",
        "custody.test_decision_made",
        "custody.warning_given",
        "custody.sample_taken",
        "custody.test_decision_made",
    ]
    assert {e["correlation_id"] for e in events[:3]} == {book.correlation_id}
    view = await custody.get(f"/v1/detentions/{did}", headers=bearer())
    assert view.status_code == 200 and view.json()["sample_taken_at"]


async def test_bad_commands_are_dead_lettered_with_the_reason_and_the_next_is_applied(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    book = command(BookInCommand(body=BookIn.model_validate(book_in_body(pid))), pid)
    did = detention_id_for(book.event_id)
    early_sample = command(
        DetentionCommand(detention_id=did, action="sample", body={"at": "2008-06-01T10:30:00Z"}), pid
    )  # no warning: T6
    # a body its action does not accept: refused when the command is read, before any handler runs
    bad_body = command(
        DetentionCommand.model_construct(detention_id=did, action="charge", body={"codes": []}), pid
    )
    unknown_code = BookIn.model_validate(book_in_body(pid, code="TA1968-s99"))
    bad_book = command(BookInCommand(body=unknown_code), pid)
    warn = command(DetentionCommand(detention_id=did, action="warning", body={}), pid)
    await send(infra, book, early_sample, bad_body, bad_book, warn)

    letters = await dead_letters_for(infra, pid, 3)
    messages: list[dict[str, Any]] = sorted(letters, key=lambda h: int(h["dlq.original.offset"]))
    assert [m["dlq.reason"] for m in messages] == ["rule-violation", "schema-invalid", "unknown-offence-code"]
    assert [m["dlq.exception"] for m in messages] == ["Rejected", "ValidationError", "Rejected"]
    assert "T6" in messages[0]["dlq.message"] and "TA1968-s99" in messages[2]["dlq.message"]
    # the next command is applied: the warning follows the book-in's events (the hold-for-sample timer of a
    # 2008 arrest falls due at once, so its deadline_passed may come before or after it)
    types = [e["type"] for e in await events_for(infra, pid, 5, timeout_s=60)]
    assert types[:3] == ["custody.booked_in", "custody.offence_added", "custody.test_decision_made"]
    assert "custody.warning_given" in types and "custody.sample_taken" not in types


async def test_a_command_is_applied_only_from_a_registered_sender_for_its_own_suites(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    body = BookIn.model_validate(book_in_body(pid))

    def book_in(producer: str) -> Envelope:
        return new_envelope(
            BookInCommand(body=body), person_id=pid, producer=producer, occurred_at=datetime.now(UTC)
        )

    unknown, forged, elsewhere = (
        book_in("suite-system-unknown"),
        book_in("suite-system-brixton"),
        book_in(ELSEWHERE),
    )
    await send(infra, unknown)
    await send(infra, forged, key="not-brixtons-key-" + "x" * 20)
    await send(infra, elsewhere)
    impersonating = book_in("suite-system-brixton")
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_as(CUSTODY_SYSTEM)))
    await producer.start()
    try:  # signed by the sender for another force, claiming to be Brixton's system
        await producer.send_and_wait(
            CUSTODY_COMMANDS.name,
            impersonating.to_bytes(),
            key=impersonating.key,
            headers=signed_headers(ELSEWHERE, KEY, impersonating.to_bytes()),
        )
    finally:
        await producer.stop()
    accepted = book_in("suite-system-brixton")
    await send(infra, accepted)

    letters = sorted(await dead_letters_for(infra, pid, 4), key=lambda h: int(h["dlq.original.offset"]))
    assert [m["dlq.reason"] for m in letters] == [
        "unknown-sender",
        "bad-signature",
        "outside-sender-areas",
        "sender-mismatch",
    ]
    assert "lambeth" in letters[2]["dlq.message"]
    refused = [unknown, forged, elsewhere, impersonating]
    for envelope in refused:
        gone = await custody.get(f"/v1/detentions/{detention_id_for(envelope.event_id)}", headers=bearer())
        assert gone.status_code == 404
    events = await events_for(infra, pid, 1, timeout_s=60)
    assert events[0]["type"] == "custody.booked_in"
    view = await custody.get(f"/v1/detentions/{detention_id_for(accepted.event_id)}", headers=bearer())
    assert view.status_code == 200


async def test_a_batch_of_commands_reads_its_detentions_ahead_and_each_command_sees_the_one_before(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """Two commands on one detention in one batch: the detention is read (and locked) once before the batch,
    the second command acts on what the first saved (a stale read would fail its save as a concurrent
    change), and its row is written once, at the batch's end."""
    pid = person(unique)
    booked = await custody.post("/v1/detentions", json=book_in_body(pid), headers=bearer())
    did = booked.json()["detention_id"]
    payloads = [
        DetentionCommand(detention_id=did, action=action, body={"at": f"2008-06-01T10:{minute}:00Z"})
        for action, minute in (("warning", 40), ("sample", 45))
    ]
    batch = [
        Parsed(ConsumerRecord("t", 0, n, 0, 0, None, b"", None, 0, 0, ()), command(p, pid), p)
        for n, p in enumerate(payloads)
    ]
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            applied = await apply_in_one_batch(conn, batch)
            updates = await conn.fetchval(
                "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'detentions'"
            )
        row = await pool.fetchrow("SELECT version, state FROM detentions WHERE detention_id = $1", did)
    finally:
        await pool.close()
    assert applied == 2
    assert updates == 1
    assert row["version"] == 3
    assert row["state"]["warned_at"] is not None and row["state"]["sample_taken_at"] is not None


async def test_a_batch_of_book_ins_reads_the_ppo_copy_once_and_each_person_gets_their_own_status(
    infra: Infra, custody: httpx.AsyncClient, unique: str
) -> None:
    """T4 needs to know whether each person booked in is a PPO: a batch's book-ins read the register's copy
    in one statement before they run, and each detention records its own person's answer."""
    ppo, other = person(unique + "-ppo"), person(unique + "-not")
    payloads = [(pid, BookInCommand(body=BookIn.model_validate(book_in_body(pid)))) for pid in (ppo, other)]
    batch = [
        Parsed(ConsumerRecord("t", 0, n, 0, 0, None, b"", None, 0, 0, ()), command(p, pid), p)
        for n, (pid, p) in enumerate(payloads)
    ]
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=1, max_size=1)
    try:
        await pool.execute("INSERT INTO ppo_register (person_id, borough) VALUES ($1, 'Lambeth')", ppo)
        async with pool.acquire() as conn, conn.transaction():
            applied = await apply_in_one_batch(conn, batch)
            reads = await conn.fetchval(
                "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = 'ppo_register'"
            )
        rows = await pool.fetch(
            "SELECT person_id, state FROM detentions WHERE person_id = ANY($1)", [ppo, other]
        )
    finally:
        await pool.close()
    assert applied == 2
    assert reads == 1
    assert {r["person_id"]: r["state"]["is_ppo"] for r in rows} == {ppo: True, other: False}


async def test_a_batch_writes_the_detentions_it_books_in_together_at_its_end_and_acts_on_them_before(
    infra: Infra, custody: httpx.AsyncClient, unique: str
) -> None:
    """Two book-ins and, in the same batch, a warning and a sample on the first: its commands act on it as
    booked (from the memo), and both rows go to the server in one statement at the batch's end, before the
    saves that follow them."""
    first, second = person(unique + "-1"), person(unique + "-2")
    book_ins = [BookInCommand(body=BookIn.model_validate(book_in_body(pid))) for pid in (first, second)]
    booked = [command(p, pid) for p, pid in zip(book_ins, (first, second), strict=True)]
    did = detention_id_for(booked[0].event_id)
    acts = [
        DetentionCommand(detention_id=did, action=action, body={"at": f"2008-06-01T10:{minute}:00Z"})
        for action, minute in (("warning", 40), ("sample", 45))
    ]
    commands: list[tuple[Envelope, EventPayload]] = [
        (booked[0], book_ins[0]),
        *((command(p, first), p) for p in acts),
        (booked[1], book_ins[1]),
    ]
    batch = [
        Parsed(ConsumerRecord("t", 0, n, 0, 0, None, b"", None, 0, 0, ()), e, p)
        for n, (e, p) in enumerate(commands)
    ]
    statements: list[str] = []
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            conn.add_query_logger(lambda record: statements.append(record.query))
            applied = await apply_in_one_batch(conn, batch)
        rows = await pool.fetch(
            "SELECT person_id, version, state FROM detentions WHERE person_id = ANY($1)", [first, second]
        )
    finally:
        await pool.close()
    assert applied == 4
    by_person = {r["person_id"]: r for r in rows}
    assert by_person[first]["version"] == 3 and by_person[second]["version"] == 1
    assert by_person[first]["state"]["warned_at"] is not None
    assert by_person[first]["state"]["sample_taken_at"] is not None
    assert len([q for q in statements if q.startswith("INSERT INTO detentions")]) == 1


async def test_a1_a_batch_of_commands_and_referrals_events_reads_its_detentions_once_and_writes_each_row_once(
    infra: Infra, custody: httpx.AsyncClient, unique: str
) -> None:
    """Proposals and a settlement from ``referral.events.v1`` and a command on the same detentions, in one batch
    of the commands group, which reads both topics: one read of the detentions, one write of each row, and each
    detention ends with what RA1 is still to serve and what the command did."""
    pids = [person(f"{unique}-{n}") for n in range(2)]
    dids = []
    for pid in pids:
        booked = await custody.post("/v1/detentions", json=book_in_body(pid), headers=bearer())
        dids.append(booked.json()["detention_id"])
    warning = DetentionCommand(detention_id=dids[1], action="warning", body={"at": "2008-06-01T10:40:00Z"})
    payloads: list[tuple[str, EventPayload]] = [
        (pids[0], RequirementProposedView(assessment_id="A-1", detention_id=dids[0])),
        (pids[1], warning),
        (pids[1], RequirementProposedView(assessment_id="A-2", detention_id=dids[1])),
        (pids[0], RequirementProposedView(assessment_id="A-3", detention_id=dids[0])),
        (pids[0], RequirementImposedView(assessment_id="A-1", detention_id=dids[0])),
    ]
    batch = [
        Parsed(ConsumerRecord("t", 0, n, 0, 0, None, b"", None, 0, 0, ()), command(p, pid), p)
        for n, (pid, p) in enumerate(payloads)
    ]
    statements: list[str] = []
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            with conn.query_logger(lambda record: statements.append(record.query)):
                applied = await apply_in_one_batch(conn, batch)
            updates = await conn.fetchval(
                "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'detentions'"
            )
        rows = await pool.fetch(
            "SELECT detention_id, state FROM detentions WHERE detention_id = ANY($1::text[])", dids
        )
    finally:
        await pool.close()
    assert applied == 5
    assert sorted((r["detention_id"], sorted(r["state"]["ra1_to_serve"])) for r in rows) == sorted(
        [(dids[0], ["A-3"]), (dids[1], ["A-2"])]
    )
    assert {r["detention_id"]: r["state"]["warned_at"] is not None for r in rows} == {
        dids[0]: False,
        dids[1]: True,
    }
    assert len([q for q in statements if "FROM detentions WHERE" in q]) == 1
    assert updates == 2

"""Outbox → relay → broker → idempotent consumer, dead letters and durable timers, on the real servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from prometheus_client import REGISTRY as REGISTRY_METRICS

from dipflow.db.appends import Writes, batched_writes
from dipflow.events import EventPayload, EventRegistry, new_envelope
from dipflow.events.consumer import ConsumerLimits, EventConsumer, Feed
from dipflow.events.deadlines import WAKE_CHANNEL
from dipflow.events.outbox import add_to_outbox
from dipflow.events.relay import OutboxRelay
from dipflow.events.timers import Deadline, TimerLoop, TryLater, cancel_deadline, schedule_deadline
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import TopicSpec
from dipflow.uow import UnitOfWork
from tests.infra import Infra
from tests.support.events import PRODUCER, REGISTRY, record_effect, sample_event, write_events
from tests.support.kafka_settings import fetch_wait_ms


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30, what: str = "") -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running(*loops: Any) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def effect_counts(pool: asyncpg.Pool) -> tuple[int, int]:
    row = await pool.fetchrow("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM effects")
    return int(row["n"]), int(row["d"])


def make_consumer(infra: Infra, pool: asyncpg.Pool, topic: str, group: str, **kw: Any) -> EventConsumer:
    kw.setdefault("registry", REGISTRY)
    return EventConsumer(
        bootstrap=infra.kafka_bootstrap,
        pool=pool,
        group_id=group,
        topics=[topic],
        handler=record_effect,
        producer=PRODUCER,
        **kw,
    )


async def test_outbox_events_reach_the_consumer_once_each_in_per_person_order(
    infra: Infra, service_pool: asyncpg.Pool, database_dsn: str, event_topic: str, unique: str
) -> None:
    relay = OutboxRelay(database_dsn, infra.kafka_bootstrap, service=f"svc-{unique}")
    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    async with running(relay, consumer):
        for start in range(0, 600, 100):
            await write_events(service_pool, event_topic, start, 100)
        await eventually(lambda: _count_is(service_pool, 600))
    assert await effect_counts(service_pool) == (600, 600)
    assert await service_pool.fetchval("SELECT count(*) FROM outbox") == 0
    rows = await service_pool.fetch("SELECT person_id, sequence FROM effects ORDER BY id")
    by_person: dict[str, list[int]] = {}
    for row in rows:
        by_person.setdefault(row["person_id"], []).append(row["sequence"])
    assert all(seq == sorted(seq) for seq in by_person.values())


async def _count_is(pool: asyncpg.Pool, n: int) -> bool:
    return (await effect_counts(pool))[0] >= n


async def test_events_written_to_the_outbox_again_are_published_again_and_applied_once(
    infra: Infra, service_pool: asyncpg.Pool, database_dsn: str, event_topic: str, unique: str
) -> None:
    """A writer unsure whether its commit landed writes the same events again: both copies are published (the
    outbox keeps no index of event ids), and the consumer's inbox applies each event once."""
    events = [sample_event(n) for n in range(5)]
    for _ in range(2):
        async with service_pool.acquire() as conn, conn.transaction():
            await add_to_outbox(Writes(conn), event_topic, events)
    relay = OutboxRelay(database_dsn, infra.kafka_bootstrap, service=f"svc-{unique}")
    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    async with running(relay, consumer):
        await eventually(lambda: _consumed(consumer, 10))
    assert (consumer.applied, consumer.duplicates) == (5, 5)
    assert await effect_counts(service_pool) == (5, 5)


async def test_redelivered_events_are_applied_once(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    events = [sample_event(i) for i in range(50)]
    await _send(
        infra, event_topic, events * 3
    )  # the same events three times, as a relay retrying after a crash would
    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 150))
    assert await effect_counts(service_pool) == (50, 50)
    assert consumer.duplicates == 100


async def _send(infra: Infra, topic: str, events: list[Any]) -> None:
    """Each event on ``topic``, keyed by its person, in order."""
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, e.to_bytes(), key=e.key)
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_group_that_takes_over_another_groups_topic_applies_each_of_its_records_once(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """Group ``a`` reads one topic, group ``b`` another. Then ``a`` takes ``b``'s topic over as a feed kept in
    ``b``'s inbox, while a replica of ``b`` still runs beside it (a rolling upgrade): ``a`` starts the topic where
    ``b`` had committed, not at its start, and what comes in while both run is applied once, by one or the
    other, and recorded in ``b``'s inbox only."""
    other = TopicSpec(f"test.{unique}.other.v1", partitions=3)
    await ensure_topics(infra.kafka_bootstrap, [other, other.dead_letter()])
    a, b = f"g-{unique}.a", f"g-{unique}.b"
    await _send(infra, event_topic, [sample_event(n) for n in range(20)])
    await _send(infra, other.name, [sample_event(n) for n in range(20, 40)])
    async with running(
        make_consumer(infra, service_pool, event_topic, a), make_consumer(infra, service_pool, other.name, b)
    ):
        await eventually(lambda: _count_is(service_pool, 40))
    merged = make_consumer(
        infra, service_pool, event_topic, a, feeds=[Feed(other.name, REGISTRY, inbox_group=b)]
    )
    b_still = make_consumer(infra, service_pool, other.name, b)
    async with running(merged, b_still):
        await _send(infra, event_topic, [sample_event(n) for n in range(40, 100)])
        await _send(infra, other.name, [sample_event(n) for n in range(100, 160)])
        await eventually(lambda: _count_is(service_pool, 160))
        await eventually(lambda: _consumed(b_still, 60))
        await eventually(lambda: _true(merged.lag == 0 and _consumed_now(merged) >= 60))
    assert await effect_counts(service_pool) == (160, 160)
    assert (
        merged.applied + merged.duplicates <= 60 + 60
    )  # none of the 20 b applied before a took its topic over
    groups = await service_pool.fetch(
        "SELECT consumer_group, count(*) AS n FROM inbox WHERE topic = $1 GROUP BY 1", other.name
    )
    assert {(r["consumer_group"], r["n"]) for r in groups} == {(b, 80)}


async def test_partitions_of_one_poll_are_applied_in_overlapping_transactions(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """Each of two events (on two partitions) waits inside its transaction until the other has started: that
    only completes when the consumer applies the partitions side by side rather than one after the other."""
    started = {0: asyncio.Event(), 1: asyncio.Event()}
    saw_other: dict[int, bool] = {}

    async def handler(uow: UnitOfWork, envelope: Any, payload: Any) -> None:
        me = payload.sequence
        started[me].set()
        try:
            await asyncio.wait_for(started[1 - me].wait(), 5)
            saw_other[me] = True
        except TimeoutError:
            saw_other[me] = False
        await record_effect(uow, envelope, payload)

    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for partition in (0, 1):
            event = sample_event(partition)
            await producer.send_and_wait(event_topic, event.to_bytes(), key=event.key, partition=partition)
    finally:
        await producer.stop()
    consumer = make_consumer(
        infra, service_pool, event_topic, f"g-{unique}", limits=ConsumerLimits(parallel_transactions=2)
    )
    consumer.handler = handler
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 2))
    assert saw_other == {0: True, 1: True}
    assert await effect_counts(service_pool) == (2, 2)


@pytest.mark.parametrize("lanes", [1, 2])
async def test_a_polls_partitions_share_the_transactions_that_run_side_by_side(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str, lanes: int
) -> None:
    """Events on three partitions, there before the consumer starts: each poll's partitions are shared among
    at most ``parallel_transactions`` transactions (by default one: all of a poll in one transaction; with two,
    partitions 0 and 2 in one, 1 in the other), and every event is applied once."""
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for n in range(30):
            event = sample_event(n, f"P-{n % 3}")
            await producer.send(event_topic, event.to_bytes(), key=event.key, partition=n % 3)
        await producer.flush()
    finally:
        await producer.stop()
    group = f"g-{unique}"
    limits = ConsumerLimits() if lanes == 1 else ConsumerLimits(parallel_transactions=lanes)
    consumer = make_consumer(infra, service_pool, event_topic, group, limits=limits)
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 30))
    assert await effect_counts(service_pool) == (30, 30)
    polls = REGISTRY_METRICS.get_sample_value("dipflow_consumer_poll_records_count", {"group": group})
    transactions = await service_pool.fetch(
        "SELECT array_agg(DISTINCT partition) AS parts FROM inbox WHERE consumer_group = $1 GROUP BY processed_at",
        group,
    )
    assert polls is not None and len(transactions) <= lanes * polls
    assert all({p % lanes for p in t["parts"]} in ({0}, {1}) for t in transactions)


async def test_a_busy_consumer_commits_its_offsets_every_so_often_and_an_idle_one_at_once(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """1,200 events there before the consumer starts, taken 100 a poll: while polls keep coming back full the
    offsets wait (the inbox makes a redelivered record a duplicate), and once a poll comes back empty they are
    committed, all of them."""
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for n in range(1200):
            event = sample_event(n, f"P-{n % 7}")
            await producer.send(event_topic, event.to_bytes(), key=event.key)
        await producer.flush()
    finally:
        await producer.stop()
    group = f"g-{unique}"
    limits = ConsumerLimits(max_batch=100, commit_every_s=3600)
    consumer = make_consumer(infra, service_pool, event_topic, group, limits=limits)
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 1200))
        await eventually(lambda: _committed(consumer, 1200))
    polls = REGISTRY_METRICS.get_sample_value("dipflow_consumer_poll_records_count", {"group": group})
    commits = REGISTRY_METRICS.get_sample_value(
        "dipflow_consumer_phase_seconds_count", {"group": group, "phase": "commit"}
    )
    assert polls is not None and polls >= 12
    assert commits is not None and commits <= 3
    assert await effect_counts(service_pool) == (1200, 1200)


@pytest.fixture
def fetch_wait_1500_ms(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with fetch_wait_ms(monkeypatch, 1500):
        yield


@pytest.mark.usefixtures("fetch_wait_1500_ms")
async def test_a_gathering_consumer_takes_what_trickled_in_while_its_fetch_waited_in_one_poll(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """20 events sent 20 ms apart to a gathering consumer whose fetches wait 1.5 s: the broker holds each fetch
    until its wait is up, so they come in at most two polls (the fetch waiting when the first was sent and the
    next), each applied in one transaction, where a consumer that does not gather polls for each."""
    group = f"g-{unique}"
    consumer = make_consumer(infra, service_pool, event_topic, group, gathers=True)
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        async with running(consumer):
            await eventually(lambda: _true(bool(consumer.partitions_assigned)))
            for n in range(20):
                event = sample_event(n, f"P-{n % 3}")
                await producer.send_and_wait(event_topic, event.to_bytes(), key=event.key)
                await asyncio.sleep(0.02)  # a trickle, as records arrive between a busy consumer's polls
            await eventually(lambda: _consumed(consumer, 20))
    finally:
        await producer.stop()
    polls = REGISTRY_METRICS.get_sample_value("dipflow_consumer_poll_records_count", {"group": group})
    assert polls is not None and polls <= 2, f"{polls:.0f} polls"
    assert await effect_counts(service_pool) == (20, 20)


class _ProbeSkipped(EventPayload):
    """Another type of the probe's producer, which the consumer below does not model."""

    event_type = "probe.noted"
    topic = "probe"
    sequence: int


class _CountingPool:
    """The real pool, counting the connections taken from it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.acquired = 0

    def acquire(self) -> Any:
        self.acquired += 1
        return self.pool.acquire()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


async def test_a_batch_of_only_skipped_records_takes_no_connection_and_the_next_event_is_applied(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """Records of types the consumer passes over cost the database nothing (no connection, no empty
    transaction), their offsets are still committed, and an event after them is applied."""
    pool = _CountingPool(service_pool)
    registry = EventRegistry(*REGISTRY, skip_other=("probe.",))
    skipped = [
        new_envelope(
            _ProbeSkipped(sequence=i), person_id=f"P-{i}", producer="probe", occurred_at=datetime.now(UTC)
        )
        for i in range(24)
    ]
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for e in skipped:
            await producer.send(event_topic, e.to_bytes(), key=e.key)
        await producer.flush()
        consumer = make_consumer(infra, pool, event_topic, f"g-{unique}", registry=registry)
        async with running(consumer):
            await eventually(lambda: _skipped(consumer, 24))
            assert pool.acquired == 0
            await eventually(lambda: _committed(consumer, 24))
            event = sample_event(1)
            await producer.send_and_wait(event_topic, event.to_bytes(), key=event.key)
            await eventually(lambda: _consumed(consumer, 1))
    finally:
        await producer.stop()
    assert pool.acquired >= 1
    assert await effect_counts(service_pool) == (1, 1)


async def _skipped(consumer: EventConsumer, n: int) -> bool:
    return consumer.skipped >= n


async def _committed(consumer: EventConsumer, n: int) -> bool:
    """The offsets the broker holds for the consumer's partitions add up to ``n``."""
    kafka = consumer._consumer
    if kafka is None:
        return False
    return sum([await kafka.committed(tp) or 0 for tp in kafka.assignment()]) >= n


async def test_a_batch_rolled_back_and_retried_is_counted_once(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    """Two events, then a tombstone whose handler fails once with a transient error after the events were
    applied: the whole batch is rolled back and retried, and the counts (the attribute and the Prometheus
    counter) say two applied, not four."""
    failed_once: list[bytes] = []
    removed: list[bytes] = []

    async def on_tombstone(uow: UnitOfWork, key: bytes) -> None:
        if not failed_once:
            failed_once.append(key)
            raise ConnectionResetError("database went away mid-batch")
        removed.append(key)

    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for n in range(2):
            event = sample_event(n, "L-same-person")
            await producer.send_and_wait(event_topic, event.to_bytes(), key=event.key)
        await producer.send_and_wait(event_topic, None, key=b"L-same-person")
    finally:
        await producer.stop()
    group = f"g-{unique}"
    consumer = make_consumer(infra, service_pool, event_topic, group, on_tombstone=on_tombstone)
    async with running(consumer):
        await eventually(lambda: _true(bool(removed)))
        await asyncio.sleep(0.3)
    assert failed_once == [b"L-same-person"] and removed == [b"L-same-person"]
    assert await effect_counts(service_pool) == (2, 2)
    assert (consumer.applied, consumer.duplicates) == (2, 0)
    applied = REGISTRY_METRICS.get_sample_value(
        "dipflow_consumer_records_total", {"group": group, "outcome": "applied"}
    )
    assert applied == 2


async def _consumed(consumer: EventConsumer, n: int) -> bool:
    return _consumed_now(consumer) >= n


def _consumed_now(consumer: EventConsumer) -> int:
    return consumer.applied + consumer.duplicates + consumer.dead_lettered


async def test_bad_messages_land_in_the_dlq_with_their_reason_and_the_next_is_processed(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    good = sample_event(1, "P-good")
    unknown = sample_event(2).model_copy(update={"type": "test.never_heard_of"})
    invalid = sample_event(3).model_copy(update={"payload": {"sequence": "not a number", "drug": "x"}})
    bad = [
        (b"P-1", b"{this is not json", "malformed-json"),
        (b"P-2", unknown.to_bytes(), "unknown-event-type"),
        (b"P-3", invalid.to_bytes(), "schema-invalid"),
        (b"P-4", orjson.dumps({"event_id": "nope"}), "schema-invalid"),
    ]
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for key, value, _ in bad:
            await producer.send_and_wait(event_topic, value, key=key, partition=0)
        await producer.send_and_wait(event_topic, good.to_bytes(), key=good.key, partition=0)
    finally:
        await producer.stop()

    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    async with running(consumer):
        await eventually(lambda: _count_is(service_pool, 1))
        letters = await _read_all(infra, event_topic + ".dlq", 4)
    assert await effect_counts(service_pool) == (1, 1)
    reasons = {r.key: dict((k, v.decode()) for k, v in r.headers) for r in letters}
    for key, _value, reason in bad:
        headers = reasons[key]
        assert headers["dlq.reason"] == reason
        assert headers["dlq.original.topic"] == event_topic
        assert headers["dlq.original.partition"] == "0"
        assert headers["dlq.consumer.group"] == f"g-{unique}"
        assert headers["dlq.exception"]
    assert {r.value for r in letters} == {value for _, value, _ in bad}
    offsets = sorted(int(reasons[k]["dlq.original.offset"]) for k, _, _ in bad)
    assert offsets == [0, 1, 2, 3]


async def test_a_handler_that_keeps_failing_dead_letters_only_that_event(
    infra: Infra, service_pool: asyncpg.Pool, event_topic: str, unique: str
) -> None:
    poison = sample_event(13, "P-x")
    calls: list[uuid.UUID] = []

    async def handler(uow: UnitOfWork, envelope: Any, payload: Any) -> None:
        calls.append(envelope.event_id)
        if envelope.event_id == poison.event_id:
            raise RuntimeError("cannot apply this one")
        await record_effect(uow, envelope, payload)

    events = [sample_event(1, "P-x"), poison, sample_event(2, "P-x")]
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(event_topic, e.to_bytes(), key=e.key)
    finally:
        await producer.stop()
    consumer = EventConsumer(
        bootstrap=infra.kafka_bootstrap,
        pool=service_pool,
        group_id=f"g-{unique}",
        topics=[event_topic],
        registry=REGISTRY,
        handler=handler,
        producer=PRODUCER,
        limits=ConsumerLimits(max_attempts=3),
    )
    async with running(consumer):
        await eventually(lambda: _consumed(consumer, 3))
        letters = await _read_all(infra, event_topic + ".dlq", 1)
    assert await effect_counts(service_pool) == (2, 2)
    assert calls.count(poison.event_id) == 1 + 3  # once in the batch, then three single attempts
    headers = dict((k, v.decode()) for k, v in letters[0].headers)
    assert headers["dlq.reason"] == "handler-failed-3-times"
    assert headers["dlq.exception"] == "RuntimeError"
    outcome = await service_pool.fetchval("SELECT outcome FROM inbox WHERE event_id = $1", poison.event_id)
    assert outcome == "dead_lettered"


async def _read_all(infra: Infra, topic: str, n: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, **kafka_consumer_options(infra.kafka_bootstrap), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < n:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(records)
    finally:
        await consumer.stop()
    return found


async def test_only_one_relay_leads_and_another_takes_over_when_it_dies(
    infra: Infra, service_pool: asyncpg.Pool, database_dsn: str, event_topic: str, unique: str
) -> None:
    first = OutboxRelay(database_dsn, infra.kafka_bootstrap, service=f"svc-{unique}", lock_retry_s=0.1)
    second = OutboxRelay(database_dsn, infra.kafka_bootstrap, service=f"svc-{unique}", lock_retry_s=0.1)
    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    first_task = asyncio.create_task(first.run())
    try:
        await eventually(lambda: _true(first.is_leader))
        async with running(second, consumer):
            await asyncio.sleep(0.5)
            assert first.is_leader and not second.is_leader
            await write_events(service_pool, event_topic, 0, 50)
            await eventually(lambda: _count_is(service_pool, 50))
            # the relay counts a batch once its outbox rows are deleted, which may be after the consumer applied it
            await eventually(lambda: _true(first.published == 50))
            assert second.published == 0
            first_task.cancel()
            await asyncio.gather(first_task, return_exceptions=True)
            await eventually(lambda: _true(second.is_leader))
            await write_events(service_pool, event_topic, 50, 50)
            await eventually(lambda: _count_is(service_pool, 100))
            await eventually(lambda: _true(second.published == 50))
        assert first.published == 50
        assert await effect_counts(service_pool) == (100, 100)
    finally:
        first_task.cancel()
        await asyncio.gather(first_task, return_exceptions=True)


async def _true(value: bool) -> bool:
    return value


# --- durable timers ---------------------------------------------------------------------------------


async def _fired_late_s(pool: asyncpg.Pool, subject: str) -> float:
    """How long after its due time the deadline of ``subject`` fired, on the database's clock."""
    return float(
        await pool.fetchval(
            "SELECT extract(epoch FROM fired_at - due_at) FROM deadlines WHERE subject = $1", subject
        )
    )


async def _fire_effect(uow: UnitOfWork, deadline: Deadline) -> None:
    await uow.conn.execute(
        "INSERT INTO effects (event_id, person_id, sequence) VALUES ($1, $2, $3)",
        uuid.uuid4(),
        deadline.subject,
        deadline.id,
    )


async def test_a_deadline_that_fell_due_while_down_fires_once_after_start(service_pool: asyncpg.Pool) -> None:
    async with service_pool.acquire() as conn:
        await schedule_deadline(Writes(conn), "hold_for_sample", "D1", datetime.now(UTC) - timedelta(hours=1))
        await schedule_deadline(Writes(conn), "hold_for_sample", "D2", datetime.now(UTC) + timedelta(hours=1))
        await schedule_deadline(
            Writes(conn), "hold_for_sample", "D3", datetime.now(UTC) - timedelta(minutes=5)
        )
        await cancel_deadline(Writes(conn), "hold_for_sample", "D3")
        assert await conn.fetchval("SELECT cancelled_at IS NOT NULL FROM deadlines WHERE subject = 'D3'")
    loop = TimerLoop(service_pool, {"hold_for_sample": _fire_effect}, producer=PRODUCER, poll_interval_s=0.05)
    async with running(loop):
        await eventually(lambda: _true(loop.fired >= 1))
        await asyncio.sleep(0.3)
    restarted = TimerLoop(
        service_pool, {"hold_for_sample": _fire_effect}, producer=PRODUCER, poll_interval_s=0.05
    )
    async with running(restarted):
        await asyncio.sleep(0.3)
    subjects = [r["person_id"] for r in await service_pool.fetch("SELECT person_id FROM effects")]
    assert subjects == ["D1"]
    assert restarted.fired == 0


async def test_a_deadline_scheduled_due_now_wakes_the_loop_without_waiting_for_its_next_pass(
    service_pool: asyncpg.Pool,
) -> None:
    """The loop polls only every 30 s here; deadlines due now (one scheduled on its own, one inside a
    consumer's batch scope) still fire within seconds, woken by the scheduling transaction's NOTIFY."""
    loop = TimerLoop(service_pool, {"hold_for_sample": _fire_effect}, producer=PRODUCER, poll_interval_s=30)
    async with running(loop):
        await asyncio.sleep(0.5)  # the first pass has run and found nothing: the loop waits for 30 s now
        async with service_pool.acquire() as conn, conn.transaction():
            await schedule_deadline(Writes(conn), "hold_for_sample", "W1", datetime.now(UTC))
        await eventually(lambda: _true(loop.fired >= 1), timeout_s=5)
        async with service_pool.acquire() as conn, conn.transaction(), batched_writes(conn) as writes:
            await schedule_deadline(writes, "hold_for_sample", "W2", datetime.now(UTC))
        await eventually(lambda: _true(loop.fired >= 2), timeout_s=5)
    subjects = sorted(r["person_id"] for r in await service_pool.fetch("SELECT person_id FROM effects"))
    assert subjects == ["W1", "W2"]


async def test_a_deadline_due_now_wakes_only_the_loop_of_its_kind(service_pool: asyncpg.Pool) -> None:
    """Two loops, each polling every 30 s, the second passing at most every 3 s. A deadline of the first loop's
    kind, due now, must not wake the second: woken for nothing, its next pass (for its own deadline, scheduled
    just after) would wait out the 3 s; it fires within a second of its scheduling."""
    rules = TimerLoop(service_pool, {"rule_step": _fire_effect}, producer=PRODUCER, poll_interval_s=30)
    deliveries = TimerLoop(
        service_pool, {"delivery_step": _fire_effect}, producer=PRODUCER, poll_interval_s=30, min_gap_s=3
    )
    async with running(rules), running(deliveries):
        await asyncio.sleep(3.5)  # both loops made their first pass 3 s ago and wait
        async with service_pool.acquire() as conn, conn.transaction():
            await schedule_deadline(Writes(conn), "rule_step", "K1", datetime.now(UTC))
        await eventually(lambda: _true(rules.fired >= 1), timeout_s=5)
        async with service_pool.acquire() as conn, conn.transaction():
            await schedule_deadline(Writes(conn), "delivery_step", "K2", datetime.now(UTC))
        await eventually(lambda: _true(deliveries.fired >= 1), timeout_s=10)
    late = await service_pool.fetchval(
        "SELECT extract(epoch FROM fired_at - created_at) FROM deadlines WHERE subject = 'K2'"
    )
    assert late < 1.0


async def test_a_deadline_due_later_fires_at_its_own_time_not_at_the_next_pass_by_the_clock(
    service_pool: asyncpg.Pool,
) -> None:
    """The loop polls only every 30 s; a deadline due 2 s after it was scheduled fires at its due time (the
    loop sleeps until the next deadline falls due), measured on the database's own clock."""
    loop = TimerLoop(service_pool, {"hold_for_sample": _fire_effect}, producer=PRODUCER, poll_interval_s=30)
    async with running(loop):
        await asyncio.sleep(0.5)  # the first pass has run and found nothing
        async with service_pool.acquire() as conn, conn.transaction():
            due = await conn.fetchval("SELECT clock_timestamp() + interval '2 seconds'")
            await schedule_deadline(Writes(conn), "hold_for_sample", "L1", due)
        await eventually(lambda: _true(loop.fired >= 1), timeout_s=10)
    late = await _fired_late_s(service_pool, "L1")
    assert 0 <= late < 1.0


async def test_a_deadline_due_just_after_a_pass_by_the_clock_fires_at_its_own_time_not_the_gap_later(
    service_pool: asyncpg.Pool,
) -> None:
    """Passes by the clock every 0.2 s, woken passes at most every 3 s. A deadline due 1.2 s after the loop
    started (written without a notification, as one scheduled long before) falls due just after a pass by the
    clock: it fires at its time, not when a gap after that pass has run out (1.8 s late)."""
    loop = TimerLoop(
        service_pool, {"clock_step": _fire_effect}, producer=PRODUCER, poll_interval_s=0.2, min_gap_s=3
    )
    async with running(loop):
        await service_pool.execute(
            "INSERT INTO deadlines (kind, subject, due_at) VALUES ('clock_step', 'G1', now() + interval '1.2 s')"
        )
        await eventually(lambda: _true(loop.fired >= 1), timeout_s=10)
    late = await _fired_late_s(service_pool, "G1")
    assert 0 <= late < 0.5


async def test_a_stream_of_wake_ups_for_nothing_makes_at_most_one_pass_per_gap(
    service_pool: asyncpg.Pool,
) -> None:
    """Notifications for the loop's kind with nothing due, forty in 2 s: the passes they bring stay one per
    ``min_gap_s`` (0.5 s here), not one per notification."""

    class Counted(TimerLoop):
        passes = 0

        async def fire_due(self) -> int:
            Counted.passes += 1
            return await super().fire_due()

    loop = Counted(
        service_pool, {"noisy_step": _fire_effect}, producer=PRODUCER, poll_interval_s=30, min_gap_s=0.5
    )
    async with running(loop):
        await eventually(lambda: _true(Counted.passes >= 1), timeout_s=5)
        await asyncio.sleep(0.3)  # the listener is on
        before = Counted.passes
        for _ in range(40):
            await service_pool.execute("SELECT pg_notify($1, 'noisy_step')", WAKE_CHANNEL)
            await asyncio.sleep(0.05)
        during = Counted.passes - before
    assert 1 <= during <= 6


async def test_a_deadline_that_schedules_the_next_step_due_at_once_has_it_fired_without_the_gap(
    service_pool: asyncpg.Pool,
) -> None:
    """A chain (an appointment passed, then its attendance overdue at once with no grace): the second step
    fires in the pass right after the first, not ``min_gap_s`` (5 s here) later, on the database's clock."""

    async def first_step(uow: UnitOfWork, deadline: Deadline) -> None:
        await _fire_effect(uow, deadline)
        await uow.schedule("second_step", deadline.subject, datetime.now(UTC))

    loop = TimerLoop(
        service_pool,
        {"first_step": first_step, "second_step": _fire_effect},
        producer=PRODUCER,
        poll_interval_s=30,
        min_gap_s=5,
    )
    async with service_pool.acquire() as conn:
        await schedule_deadline(Writes(conn), "first_step", "C1", datetime.now(UTC) - timedelta(seconds=1))
    async with running(loop):
        await eventually(lambda: _true(loop.fired >= 2), timeout_s=10)
    gap = await service_pool.fetchval(
        "SELECT extract(epoch FROM max(fired_at) - min(fired_at)) FROM deadlines WHERE subject = 'C1'"
    )
    assert gap < 1.0


async def test_two_timer_loops_fire_each_deadline_exactly_once(service_pool: asyncpg.Pool) -> None:
    """300 deadlines falling due together while two loops (two instances) poll for them: each fires once, and
    both loops fire some. They fall due two seconds after the loops start, so that both are polling when they do
    (due already, the first loop to start could claim them all before the second made its first pass, as it did
    once on a busy machine)."""
    due = datetime.now(UTC) + timedelta(seconds=2)
    async with service_pool.acquire() as conn:
        for i in range(300):
            await schedule_deadline(Writes(conn), "appointment_missed", f"A{i}", due, {"i": i})
    a = TimerLoop(
        service_pool,
        {"appointment_missed": _fire_effect},
        producer=PRODUCER,
        poll_interval_s=0.01,
        batch_size=10,
    )
    b = TimerLoop(
        service_pool,
        {"appointment_missed": _fire_effect},
        producer=PRODUCER,
        poll_interval_s=0.01,
        batch_size=10,
    )
    async with running(a, b):
        await eventually(lambda: _true(a.fired + b.fired >= 300))
        await asyncio.sleep(0.2)
    rows = await service_pool.fetch("SELECT person_id FROM effects")
    assert len(rows) == 300 and len({r["person_id"] for r in rows}) == 300
    assert a.fired > 0 and b.fired > 0
    assert a.fired + b.fired == 300


async def test_a_failing_deadline_handler_is_retried_then_marked_failed(service_pool: asyncpg.Pool) -> None:
    async def broken(uow: UnitOfWork, deadline: Deadline) -> None:
        await _fire_effect(uow, deadline)
        raise ValueError("bad payload")

    async with service_pool.acquire() as conn:
        await schedule_deadline(Writes(conn), "broken", "B1", datetime.now(UTC) - timedelta(seconds=1))
        await schedule_deadline(Writes(conn), "ok", "O1", datetime.now(UTC) - timedelta(seconds=1))
    loop = TimerLoop(
        service_pool,
        {"broken": broken, "ok": _fire_effect},
        producer=PRODUCER,
        poll_interval_s=0.01,
        max_attempts=3,
    )
    for _ in range(6):
        await loop.fire_due()
    row = await service_pool.fetchrow(
        "SELECT attempts, failed_at, fired_at, last_error FROM deadlines WHERE subject = 'B1'"
    )
    assert row["attempts"] == 3 and row["failed_at"] is not None and row["fired_at"] is None
    assert "bad payload" in row["last_error"]
    assert [r["person_id"] for r in await service_pool.fetch("SELECT person_id FROM effects")] == ["O1"]


async def test_a_consumer_stuck_with_work_fails_readyz_and_names_itself(
    infra: Infra, database_dsn: str, event_topic: str, unique: str
) -> None:
    from dipflow.http.app import ServiceResources
    from tests.support.sample_app import build_sample_app, serve

    release = asyncio.Event()

    async def stuck(uow: UnitOfWork, envelope: Any, payload: Any) -> None:
        await release.wait()

    async def add_consumer(resources: ServiceResources) -> None:
        await resources.pool.execute(
            "CREATE TABLE IF NOT EXISTS effects (id bigserial, event_id uuid, person_id text, sequence int)"
        )
        resources.loops.append(
            EventConsumer(
                bootstrap=infra.kafka_bootstrap,
                pool=resources.pool,
                group_id=f"g-{unique}",
                topics=[event_topic],
                registry=REGISTRY,
                handler=stuck,
                producer=PRODUCER,
                limits=ConsumerLimits(stall_after_s=1.0),
            )
        )

    app = build_sample_app(database_dsn, infra.kafka_bootstrap, on_start=[add_consumer])
    async with serve(app) as client:
        await eventually(lambda: _ready(client, 200), timeout_s=30)
        producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
        await producer.start()
        event = sample_event(1)
        await producer.send_and_wait(event_topic, event.to_bytes(), key=event.key)
        await producer.stop()
        stuck_consumer = f"consumer:g-{unique}"

        async def names_the_stuck_consumer() -> bool:
            answer = await client.get("/readyz")
            return answer.status_code == 503 and stuck_consumer in answer.json()["failing"]

        # on a busy machine another loop may be late for a moment too: wait for this one to be named
        await eventually(names_the_stuck_consumer, timeout_s=30)
        release.set()
        await eventually(lambda: _ready(client, 200), timeout_s=30)


async def _ready(client: Any, status: int) -> bool:
    return bool((await client.get("/readyz")).status_code == status)


async def test_replay_rebuilds_the_tables_beside_a_running_consumer(
    infra: Infra, service_pool: asyncpg.Pool, database_dsn: str, event_topic: str, unique: str
) -> None:
    import gc
    import os
    import subprocess
    import sys

    from dipflow.events.replay import replay
    from dipflow.heap import YOUNG_COLLECTION_ALLOCATIONS
    from tests.infra import ROOT
    from tests.support.events import replay_spec

    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), linger_ms=5)
    await producer.start()
    events = [sample_event(i) for i in range(800)]
    for e in events:
        await producer.send(event_topic, e.to_bytes(), key=e.key)
    await producer.send_and_wait(event_topic, b"{broken", key=b"P-bad")
    consumer = make_consumer(infra, service_pool, event_topic, f"g-{unique}")
    async with running(consumer):
        await eventually(lambda: _count_is(service_pool, 800))
        os.environ["REPLAY_TOPIC"] = event_topic
        seen: list[tuple[int, int]] = []
        young_collections: set[int] = set()
        thresholds = gc.get_threshold()

        def progress(done: int, total: int) -> None:
            seen.append((done, total))
            young_collections.add(gc.get_threshold()[0])

        result = await replay(
            replay_spec(),
            dsn=database_dsn,
            bootstrap=infra.kafka_bootstrap,
            schema="replay_a",
            progress=progress,
        )
        more = [sample_event(1000 + i) for i in range(20)]  # the live consumer carries on meanwhile
        for e in more:
            await producer.send(event_topic, e.to_bytes(), key=e.key)
        await producer.flush()
        await eventually(lambda: _count_is(service_pool, 820))
        cli = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "dipflow.cli",
                "replay",
                "tests.support.events:replay_spec",
                "--database-url",
                database_dsn,
                "--bootstrap",
                infra.kafka_bootstrap,
                "--schema",
                "replay_b",
                "--processes",
                "3",  # one per partition: the copy is the sum of three processes' shares
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
        )
    await producer.stop()
    assert (result.total, result.applied, result.skipped) == (801, 800, 1)
    assert seen[-1] == (801, 801)
    assert young_collections == {YOUNG_COLLECTION_ALLOCATIONS}  # collected as a running service collects
    assert gc.get_threshold() == thresholds
    live = {r["event_id"] for r in await service_pool.fetch("SELECT event_id FROM public.effects")}
    copy_a = [r["event_id"] for r in await service_pool.fetch("SELECT event_id FROM replay_a.effects")]
    assert len(copy_a) == 800 and set(copy_a) == {e.event_id for e in events}
    assert live == set(copy_a) | {e.event_id for e in more}
    assert cli.returncode == 0, cli.stderr
    assert "Replayed 821 records" in cli.stdout and "820 applied" in cli.stdout
    assert await service_pool.fetchval("SELECT count(*) FROM replay_b.effects") == 820
    assert (
        await service_pool.fetchval("SELECT count(*) FROM public.inbox WHERE consumer_group = 'replay'") == 0
    )


async def test_replay_workers_import_the_spec_not_the_module_that_started_the_replay(
    infra: Infra, service_pool: asyncpg.Pool, database_dsn: str, event_topic: str, tmp_path: Path
) -> None:
    """A worker process starts with what the spec needs: the starting program's main module (a bench, a tool,
    with its own heavy imports) runs once, in the parent."""
    import subprocess
    import sys

    from tests.infra import ROOT

    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), linger_ms=5)
    await producer.start()
    events = [sample_event(i) for i in range(60)]
    for e in events:
        await producer.send(event_topic, e.to_bytes(), key=e.key)
    await producer.stop()
    runs = tmp_path / "runs"
    starter = tmp_path / "starter.py"
    starter.write_text(
        f"import os\nwith open({str(runs)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n"
        "if __name__ == '__main__':\n"
        "    import asyncio, sys\n"
        "    from dipflow.events.replay import replay\n"
        "    done = asyncio.run(replay('tests.support.events:chatty_replay_spec', dsn=sys.argv[1], bootstrap=sys.argv[2],"
        " schema='replay_c', processes=3))\n"
        "    print(done.total, done.applied)\n"
    )
    started = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(starter), database_dsn, infra.kafka_bootstrap],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "REPLAY_TOPIC": event_topic},
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["60", "60"]  # three workers' shares add up
    assert len(runs.read_text().splitlines()) == 1
    assert await service_pool.fetchval("SELECT count(*) FROM replay_c.effects") == 60


async def test_a_failing_replay_worker_fails_the_replay_with_its_reason() -> None:
    from aiokafka import TopicPartition

    from dipflow.events.replay import _in_processes

    spans = [(TopicPartition("t", n), 0, 10) for n in range(2)]
    with pytest.raises(
        RuntimeError, match=r"exited with 1: ModuleNotFoundError: No module named 'not_a_spec_module'\n"
    ):
        await _in_processes(
            "not_a_spec_module:spec",
            "postgresql://nowhere/x",
            "127.0.0.1:1",
            "replay_x",
            [spans[:1], spans[1:]],
            20,
            None,
        )


async def test_a_deadline_whose_subject_is_locked_is_put_back_not_deadlocked(
    service_pool: asyncpg.Pool,
) -> None:
    """A command holding the subject's row (and about to reschedule this deadline) must not deadlock the timer."""
    from dipflow.events.timers import lock_or_try_later

    async with service_pool.acquire() as conn:
        await conn.execute("CREATE TABLE subjects (id text PRIMARY KEY, fired int NOT NULL DEFAULT 0)")
        await conn.execute("INSERT INTO subjects (id) VALUES ('s1')")
        await schedule_deadline(Writes(conn), "t.locked", "s1", datetime.now(UTC) - timedelta(seconds=1))

    async def handler(uow: UnitOfWork, deadline: Deadline) -> None:
        await lock_or_try_later(
            uow.conn, "SELECT id FROM subjects WHERE id = $1 FOR UPDATE NOWAIT", deadline.subject
        )
        await uow.conn.execute("UPDATE subjects SET fired = fired + 1 WHERE id = $1", deadline.subject)

    loop = TimerLoop(service_pool, {"t.locked": handler}, producer=PRODUCER)
    async with service_pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT id FROM subjects WHERE id = 's1' FOR UPDATE")
        assert await loop.fire_due() == 1  # claimed, could not act, put back
    async with service_pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT fired_at, attempts, due_at > now() AS later FROM deadlines WHERE subject = 's1'"
        )
        assert row["fired_at"] is None and row["attempts"] == 0 and row["later"]
        await conn.execute("UPDATE deadlines SET due_at = now() - interval '1 second' WHERE subject = 's1'")
    await loop.fire_due()
    async with service_pool.acquire() as conn:
        assert await conn.fetchval("SELECT fired FROM subjects WHERE id = 's1'") == 1
        assert await conn.fetchval("SELECT fired_at IS NOT NULL FROM deadlines WHERE subject = 's1'")


async def test_a_delivery_pass_makes_its_attempts_side_by_side_and_records_each_once(
    service_pool: asyncpg.Pool,
) -> None:
    """Four webhook deliveries fall due together. The receiver holds each request until all four are in
    flight (or 3 s have passed): a pass making its attempts one after another never has more than one in
    flight. Each delivery is still received once and recorded delivered after one attempt."""
    import uvicorn

    from dipflow.devstack import free_port
    from dipflow.webhooks import (
        DELIVERY_HEADER,
        DeliveryTable,
        TableDeliveries,
        delivery_loop,
        queue_with_first_attempt,
    )

    in_flight, most, received = 0, 0, []
    all_in = asyncio.Event()
    hook = FastAPI()

    @hook.post("/hook")
    async def receive(request: Request) -> dict[str, str]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 4:
            all_in.set()
        received.append(request.headers[DELIVERY_HEADER])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 3)
        in_flight -= 1
        return {}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hook, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    async with service_pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TABLE hook_receivers (area text PRIMARY KEY, url text NOT NULL, secret text NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(
            "CREATE TABLE hooks (id bigserial PRIMARY KEY, delivery_id uuid NOT NULL, area text NOT NULL, "
            "body jsonb NOT NULL, attempts int NOT NULL DEFAULT 0, delivered_at timestamptz, last_error text, "
            "given_up_at timestamptz)"
        )
        await conn.execute(
            "INSERT INTO hook_receivers (area, url, secret) VALUES ('camden', $1, 's')",
            f"http://127.0.0.1:{port}/hook",
        )
        uow = UnitOfWork(Writes(conn), PRODUCER)
        for _ in range(4):
            await queue_with_first_attempt(
                uow,
                "hook",
                "INSERT INTO hooks (delivery_id, area, body) VALUES ($1, 'camden', '{}') RETURNING id",
                uuid.uuid4(),
            )
    store = TableDeliveries(DeliveryTable("hooks", "id", "hook_receivers", "given_up_at", "delivery_id"))
    loop = delivery_loop(service_pool, PRODUCER, "hook", store, retry_base_s=30, max_attempts=3)
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with running(loop):
            await eventually(lambda: _true(loop.fired >= 4), timeout_s=30, what="four deliveries recorded")
    finally:
        server.should_exit = True
        await serving
    assert most == 4
    rows = await service_pool.fetch("SELECT delivery_id::text, attempts, delivered_at FROM hooks")
    assert sorted(received) == sorted(r["delivery_id"] for r in rows)
    assert all(r["attempts"] == 1 and r["delivered_at"] is not None for r in rows)


async def test_in_a_pass_of_several_deadlines_only_those_whose_handler_failed_are_undone(
    service_pool: asyncpg.Pool,
) -> None:
    """Each deadline of a pass in its own savepoint, whatever came before it: a failure or a TryLater between
    two that fire undoes its own writes only."""

    async def broken(uow: UnitOfWork, deadline: Deadline) -> None:
        await _fire_effect(uow, deadline)
        raise ValueError("bad payload")

    async def busy(uow: UnitOfWork, deadline: Deadline) -> None:
        await _fire_effect(uow, deadline)
        raise TryLater()

    now = datetime.now(UTC)
    async with service_pool.acquire() as conn:
        for n, (kind, subject) in enumerate(
            [("ok", "O1"), ("broken", "B1"), ("ok", "O2"), ("busy", "T1"), ("ok", "O3")]
        ):
            await schedule_deadline(Writes(conn), kind, subject, now - timedelta(seconds=10 - n))
    loop = TimerLoop(
        service_pool, {"broken": broken, "busy": busy, "ok": _fire_effect}, producer=PRODUCER, max_attempts=3
    )
    assert await loop.fire_due() == 5
    effects = await service_pool.fetch("SELECT person_id FROM effects ORDER BY id")
    states = {
        r["subject"]: (r["fired_at"] is not None, r["attempts"])
        for r in await service_pool.fetch("SELECT subject, fired_at, attempts FROM deadlines")
    }
    assert [r["person_id"] for r in effects] == ["O1", "O2", "O3"]
    assert states == {
        "O1": (True, 0),
        "B1": (False, 1),
        "O2": (True, 0),
        "T1": (False, 0),
        "O3": (True, 0),
    }

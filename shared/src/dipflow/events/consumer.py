"""The idempotent consumer (inbox) with dead letters.

Records are consumed in batches per partition. For each batch one transaction records the event ids in
``inbox`` (deduplicated on (consumer group, event id)) and applies the effects of the events not seen before;
Kafka offsets are committed only after that transaction committed. A database or broker that is away is
retried with backoff and nothing is skipped (the batch is retried, or the consumer restarts from its last
committed offset). A record that cannot be parsed, has an unknown type, fails its schema, or makes the
handler fail ``max_attempts`` times goes to ``<topic>.dlq`` with headers that give the reason, the exception
and where it came from; the consumer carries on with the next record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError, MessageSizeTooLargeError
from pydantic import ValidationError

from dipflow.db.appends import Writes, batched_writes
from dipflow.db.database import database_answers
from dipflow.events.envelope import Envelope, EventPayload, EventRegistry, SkippedEventType, UnknownEventType
from dipflow.events.errors import Backoff, Rejected, as_refusal, is_transient, run_with_restarts
from dipflow.events.metrics import CONSUMED, LAG, PHASE_SECONDS, POLL_RECORDS
from dipflow.events.relay import idempotent_producer
from dipflow.events.senders import RecordCheck
from dipflow.kafka.admin import committed_offsets
from dipflow.kafka.clients import stop_within
from dipflow.kafka.connection import kafka_consumer_options
from dipflow.logging import get_logger
from dipflow.topics import DLQ_SUFFIX
from dipflow.uow import Producer, UnitOfWork

log = get_logger("dipflow.consumer")

Handler = Callable[[UnitOfWork, Envelope, EventPayload], Awaitable[None]]
"""Applies one event in the batch's transaction; its unit of work names the event as the cause of what it emits."""
TombstoneHandler = Callable[[UnitOfWork, bytes], Awaitable[None]]
Prefetch = Callable[[UnitOfWork, Sequence[tuple[Envelope, EventPayload]]], Awaitable[None]]
"""Reads (and locks) at once, before a batch's handlers run, what its events name: one statement for the
aggregates of the whole batch instead of one per event (kept in the unit of work's ``memo``)."""


class ErasedPeople(Protocol):
    """Events about a person this service has erased, applied after the erasure: the events were on their way
    (another topic, a group behind) when the erasure came, and must not put the person back
    (:class:`dipflow.privacy.late.LateEvents`)."""

    async def aliases(self, conn: asyncpg.Connection, people: Sequence[str]) -> list[str]:
        """The pseudonyms of ``people``, in order: what ``erasures`` is searched by."""
        ...

    def covered(self, events: Sequence[Envelope], erased: Mapping[str, datetime]) -> list[Envelope]:
        """Those of ``events`` an erasure covers (``erased``: pseudonym → when the erasure was asked for)."""
        ...

    async def erase(self, conn: asyncpg.Connection, producer: Producer, people: Iterable[str]) -> None:
        """Erase ``people`` again, in the batch's transaction."""
        ...


PARSE_SLICE = 50
"""Records parsed before the consumer lets the event loop run other work (requests, timers): a batch of 500
would otherwise hold the loop for tens of milliseconds, and every request waiting on it with it."""


class _ReadAgainFromCommitted(ConsumerRebalanceListener):  # type: ignore[misc]
    """A partition assigned (in a new session, or after a rebalance) is read again from the group's committed
    offset, which another instance may have moved meanwhile: what this instance applied of it before no longer
    says how much is left, so it is forgotten until the partition's next poll is applied. A :class:`Feed`'s
    partition the group has committed nothing for yet starts where the feed's inbox group left it
    (:func:`_start_where_handed_on`)."""

    def __init__(
        self,
        positions: dict[TopicPartition, int],
        on_assigned: Callable[[set[TopicPartition]], Awaitable[None]],
    ) -> None:
        self.positions = positions
        self.on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            self.positions.pop(tp, None)
        await self.on_assigned(assigned)


@dataclass(frozen=True)
class DeadLetter:
    record: ConsumerRecord[Any, Any]
    reason: str
    exception: BaseException | None


@dataclass(frozen=True)
class Parsed:
    record: ConsumerRecord[Any, Any]
    envelope: Envelope
    payload: EventPayload


GATHER_BYTES = 2**20
"""A gathering consumer's fetch returns when this much has gathered at the broker or when its wait is up: a group
far behind reads on at once, any other waits at most ``DIPFLOW_KAFKA_FETCH_WAIT_MS`` a fetch."""


PARTITION_FETCH_BYTES = 2**18
"""What one fetch brings of a partition at most (aiokafka's default is 1 MiB): a consumer far behind holds what its
fetches brought until its polls take it, 500 records at a time, so the default let a group of twelve partitions
hold 12 MiB of records and their objects. ``make profile`` at 700 journeys/s (past what the machine carries, so
every group falls behind): custody's peak resident memory 148 MB with the default, 139 with 256 KiB, at the same CPU
per applied event (301 and 304 µs, the whole machine). A fetch still brings a record larger than this whole."""


@dataclass(frozen=True)
class Feed:
    """A topic a consumer group reads besides its own, with its own events (``registry``: a record of another
    topic's type is refused like any unknown type), its own ``check``, and the group whose inbox its records are
    recorded in. A group that takes a topic over from another group records them in that group's inbox: what the
    other applied is found there, and while replicas of both run side by side (a rolling upgrade) each record is
    applied once, by whichever inserts its inbox row first."""

    topic: str
    registry: EventRegistry
    inbox_group: str
    check: RecordCheck | None = None


@dataclass(frozen=True)
class ConsumerLimits:
    """How much a consumer takes at once and how long it tries: records per batch, transactions side by side
    (a poll's partitions shared among them), how often a busy consumer commits its offsets to the broker
    (an idle one at once), attempts before a failing record is dead-lettered, seconds without progress before
    ``/readyz`` fails, and retries in place of a batch whose database connection broke.

    One transaction per poll by default: where the services and their database share the machine's CPU, a
    second transaction side by side overlaps little and costs a second BEGIN, inbox write, read-ahead, write
    and COMMIT per poll (``make profile`` at 450 journeys/s, two pairs of runs: 315 and 325 µs of CPU per applied
    event with one, 339 and 344 with two). Two pay where the database is a network hop away and round trips,
    not CPU, bound a batch."""

    max_batch: int = 500
    parallel_transactions: int = 1
    commit_every_s: float = 0.5
    max_attempts: int = 3
    stall_after_s: float = 60.0
    db_retries_in_place: int = 5


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        pool: asyncpg.Pool,
        group_id: str,
        topics: Sequence[str],
        registry: EventRegistry,
        handler: Handler,
        producer: Producer,
        on_tombstone: TombstoneHandler | None = None,
        limits: ConsumerLimits = ConsumerLimits(),
        check: RecordCheck | None = None,
        prefetch: Prefetch | None = None,
        gathers: bool = False,
        feeds: Sequence[Feed] = (),
        erased_people: ErasedPeople | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.erased_people = erased_people
        self.gathers = gathers
        self.prefetch = prefetch
        self.pool = pool
        self.group_id = group_id
        self.topics = [*topics, *(feed.topic for feed in feeds)]
        self.registry = registry
        self._feeds = {feed.topic: feed for feed in feeds}
        self.inbox_groups = {feed.topic: feed.inbox_group for feed in feeds}
        self.handler = handler
        self.producer = producer
        self.on_tombstone = on_tombstone
        self.check = check
        self.max_batch = limits.max_batch
        self.parallel_transactions = limits.parallel_transactions
        self.max_attempts = limits.max_attempts
        self.stall_after_s = limits.stall_after_s
        self.db_retries_in_place = limits.db_retries_in_place
        self.commit_every_s = limits.commit_every_s
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.skipped = 0
        self.lag = 0
        self.last_progress_at = time.monotonic()
        self.running = False
        self._positions: dict[TopicPartition, int] = {}
        self._uncommitted: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._busy_since: float | None = None
        self._down_since: float | None = time.monotonic()
        self._stall_logged: str | None = None

    # -- liveness -------------------------------------------------------------------------------------

    def stalled(self) -> bool:
        """True when the consumer has made no progress for ``stall_after_s`` although it has work: it has lag,
        or it is stuck on a batch, or it has been unable to (re)connect."""
        return self._stall_reason() is not None

    def _stall_reason(self) -> str | None:
        now = time.monotonic()
        if self._busy_since is not None and now - self._busy_since > self.stall_after_s:
            return "stuck on a batch"
        if self._down_since is not None and now - self._down_since > self.stall_after_s:
            return "unable to (re)connect"
        if self.lag > 0 and now - self.last_progress_at > self.stall_after_s:
            return "lag without progress"
        return None

    def readiness(self) -> dict[str, bool]:
        """Ready unless stalled. Each change is logged once: ``consumer_stalled`` with the reason and the lag,
        ``consumer_unstalled`` when it ends."""
        reason = self._stall_reason()
        if reason != self._stall_logged:
            self._stall_logged = reason
            if reason:
                log.warning("consumer_stalled", group=self.group_id, reason=reason, lag=self.lag)
            else:
                log.info("consumer_unstalled", group=self.group_id)
        return {f"consumer:{self.group_id}": reason is None}

    @property
    def partitions_assigned(self) -> set[TopicPartition]:
        """The partitions the group gives this instance now (none before it joined)."""
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    @property
    def partitions_applied(self) -> set[TopicPartition]:
        """The partitions this instance has applied records of (in a group, others apply the rest)."""
        return set(self._positions)

    # -- the loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; a failed session (server away, rebalance trouble) restarts from the last
        committed offsets, so nothing is skipped."""
        await run_with_restarts(
            self._session,
            event="consumer_restarting",
            log=log,
            on_failure=self._went_down,
            group=self.group_id,
        )

    def _went_down(self, _: BaseException) -> None:
        self.running = False
        if self._down_since is None:
            self._down_since = time.monotonic()

    async def _session(self) -> None:
        consumer = AIOKafkaConsumer(
            **kafka_consumer_options(self.bootstrap),
            fetch_min_bytes=GATHER_BYTES if self.gathers else 1,
            max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
        )
        consumer.subscribe(
            self.topics,
            listener=_ReadAgainFromCommitted(
                self._positions, lambda assigned: self._start_where_handed_on(consumer, assigned)
            ),
        )
        self._consumer = consumer
        self._uncommitted = {}
        try:
            await consumer.start()
            producer = idempotent_producer(self.bootstrap, linger_ms=0)
            try:
                await producer.start()
                self.running = True
                self._down_since = None
                lag_measured_at = 0.0
                committed_at = time.monotonic()
                while True:
                    batches = await consumer.getmany(timeout_ms=200, max_records=self.max_batch)
                    if batches:
                        self._busy_since = started = time.monotonic()
                        POLL_RECORDS.labels(self.group_id).observe(sum(len(r) for r in batches.values()))
                        await self._process_partitions(producer, batches)
                        PHASE_SECONDS.labels(self.group_id, "apply").observe(time.monotonic() - started)
                        self._applied(batches)
                        self._busy_since = None
                    if self._uncommitted and (
                        not batches or time.monotonic() - committed_at >= self.commit_every_s
                    ):
                        committing = time.monotonic()
                        await self._commit(consumer)
                        committed_at = time.monotonic()
                        PHASE_SECONDS.labels(self.group_id, "commit").observe(committed_at - committing)
                    if not batches or time.monotonic() - lag_measured_at > 1.0:
                        await self._measure_lag(consumer)
                        lag_measured_at = time.monotonic()
            finally:
                await stop_within(producer)
                if self._uncommitted and consumer.assignment():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self._commit(consumer), 2.0)
        finally:
            self.running = False
            await stop_within(consumer)

    async def _start_where_handed_on(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """A feed's partition this group has committed no offset for (the group took the topic over) starts at
        the offset the feed's inbox group committed, not at the topic's start: every record before it is
        applied and in that group's inbox. The offset is this group's from then on (committed with its next
        commit). If that group's offsets cannot be read, the partition is read from its start, and the inbox
        finds what was applied."""
        feeds = _by_inbox_group(self.inbox_groups, assigned)
        held = [tp for partitions in feeds.values() for tp in partitions]
        consumer.pause(*held)  # nothing fetched from their start is applied meanwhile
        try:
            for group, partitions in feeds.items():
                for tp, offset in (await self._handed_on(consumer, group, partitions)).items():
                    consumer.seek(tp, offset)
                    self._positions[tp] = self._uncommitted[tp] = offset
        finally:
            consumer.resume(*held)

    async def _handed_on(
        self, consumer: AIOKafkaConsumer, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Where ``group`` left those of ``partitions`` this group has committed nothing for; none if unread."""
        try:
            fresh = [tp for tp in partitions if await consumer.committed(tp) is None]
            handed_on = await committed_offsets(self.bootstrap, group, fresh) if fresh else {}
        except Exception as exc:
            log.warning(
                "feed_offsets_unread", group=self.group_id, feed_group=group, error=type(exc).__name__
            )
            return {}
        if handed_on:
            log.info("feed_handed_on", group=self.group_id, feed_group=group, partitions=len(handed_on))
        return handed_on

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """The records of the partitions assigned now not yet applied: past what this instance applied of a
        partition since it was assigned, or else past the group's committed offset (where its reading starts)."""
        lag = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            done = self._positions.get(tp)
            if done is None:
                done = self._positions[tp] = await consumer.committed(tp) or 0
            lag += max(0, high - done)
        self.lag = lag
        LAG.labels(self.group_id).set(lag)
        if lag == 0:
            self.last_progress_at = time.monotonic()

    async def _process_partitions(
        self, producer: AIOKafkaProducer, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]
    ) -> None:
        """A poll's partitions shared among up to ``parallel_transactions`` transactions side by side (while one
        waits on the database another runs), each applying its partitions' batches one after the other: one
        inbox write, one read-ahead and one write of what the handlers queued for all of them. A partition
        keeps its order. Partitions with the same number on different topics hold the same people (the same
        key lands on the same partition of topics with equal partition counts), so they share a transaction:
        two transactions side by side never hold the same person. If one fails for good the others are
        cancelled (rolled back) and nothing is committed."""
        parsed = {tp: await self._parse(tp.topic, records) for tp, records in batches.items()}
        for batch in parsed.values():
            self.skipped += batch.skipped
            CONSUMED.labels(self.group_id, "skipped").inc(batch.skipped)

        async def one(lane: list[TopicPartition]) -> None:
            failed = await self._apply_lane([(tp, parsed[tp]) for tp in lane])
            for letter in [*(letter for tp in lane for letter in parsed[tp].dead), *failed]:
                await self._dead_letter(producer, letter)

        try:
            async with asyncio.TaskGroup() as tasks:
                for lane in lanes(same_people(batches), self.parallel_transactions):
                    tasks.create_task(one(lane))
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _parse(self, topic: str, records: list[ConsumerRecord[Any, Any]]) -> ParsedBatch:
        """A topic's records parsed by its own registry and check: the subscription's, or its :class:`Feed`'s."""
        feed = self._feeds.get(topic)
        if feed is None:
            return await parse_batch(self.registry, records, self.check)
        return await parse_batch(feed.registry, records, feed.check)

    def _applied(self, batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        """The poll's records are applied (committed in the database): each partition's position moves past
        them, to be committed to the broker with the next commit."""
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        self._positions.update(offsets)
        self._uncommitted.update(offsets)
        self.last_progress_at = time.monotonic()

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """The positions applied since the last commit, committed to the broker in one call: after a poll when
        ``commit_every_s`` has passed since the last, or when a poll comes back empty (the inbox makes a
        record delivered again after a restart a duplicate, so fewer commits lose nothing)."""
        offsets, self._uncommitted = self._uncommitted, {}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError):
            log.info("commit_skipped_partition_revoked", group=self.group_id)

    async def _apply_lane(self, lane: list[tuple[TopicPartition, ParsedBatch]]) -> list[DeadLetter]:
        """Apply the lane's batches in one transaction; on a handler error fall back to one event at a time. A
        lane with nothing to apply (every record skipped or dead-lettered) touches no database: no connection,
        no transaction."""
        todo = [(tp, batch) for tp, batch in lane if batch.parsed or batch.tombstones]
        if not todo:
            return []
        backoff = Backoff()
        for attempt in range(self.db_retries_in_place + 1):
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    applied, duplicates = await self._apply_in_order(conn, todo)
                self._count(applied, duplicates)
                return []
            except Exception as exc:
                if not is_transient(exc):
                    log.warning("batch_failed_retrying_singly", group=self.group_id, error=type(exc).__name__)
                    dead: list[DeadLetter] = []
                    for tp, batch in todo:
                        dead += await self._apply_singly(tp, batch.parsed, batch.tombstones)
                    return dead
                if attempt == self.db_retries_in_place:
                    raise
                log.warning("batch_transient_failure", group=self.group_id, error=type(exc).__name__)
                await asyncio.sleep(backoff.next())
        return []

    async def _apply_in_order(
        self, conn: asyncpg.Connection, todo: list[tuple[TopicPartition, ParsedBatch]]
    ) -> tuple[int, int]:
        """Each partition's events and tombstones in offset order, partition after partition: a removal and a
        later status of the same key (or the reverse) must not swap. The events between tombstones are applied
        together. Returns (applied, duplicates)."""
        applied = duplicates = 0
        run: list[Parsed] = []
        for _, batch in todo:
            for item in _in_offset_order(batch.parsed, batch.tombstones):
                if isinstance(item, Parsed):
                    run.append(item)
                    continue
                a, d = await self._apply_events(conn, run)
                applied, duplicates, run = applied + a, duplicates + d, []
                await self._apply_tombstones(conn, [item])
        a, d = await self._apply_events(conn, run)
        return applied + a, duplicates + d

    async def _apply_events(
        self, conn: asyncpg.Connection, parsed: Sequence[Parsed], prefetch: bool = True
    ) -> tuple[int, int]:
        return await apply_events(
            conn,
            self.group_id,
            parsed,
            self.handler,
            self.producer,
            self.prefetch if prefetch else None,
            self.inbox_groups,
            self.erased_people,
        )

    def _count(self, applied: int, duplicates: int) -> None:
        """Counted once the transaction committed: a batch rolled back and retried counts once."""
        self.applied += applied
        self.duplicates += duplicates
        CONSUMED.labels(self.group_id, "applied").inc(applied)
        CONSUMED.labels(self.group_id, "duplicate").inc(duplicates)

    async def _apply_singly(
        self, tp: TopicPartition, parsed: list[Parsed], tombstones: list[ConsumerRecord[Any, Any]]
    ) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        for item in _in_offset_order(parsed, tombstones):
            if not isinstance(item, Parsed):
                async with self.pool.acquire() as conn, conn.transaction():
                    await self._apply_tombstones(conn, [item])
                continue
            last_error: BaseException | None = None
            refused: Rejected | None = None
            for _ in range(self.max_attempts):
                try:
                    async with self.pool.acquire() as conn, conn.transaction():
                        applied, duplicates = await self._apply_events(conn, [item], prefetch=False)
                    self._count(applied, duplicates)
                    last_error = None
                    break
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    last_error = exc
                    refused = as_refusal(exc)
                    if refused is not None:
                        break
            if refused is not None:
                dead.append(DeadLetter(item.record, refused.reason, refused))
                await self._record_dead_letter(tp, item)
            elif last_error is not None:
                if not await database_answers(self.pool):
                    # The failures may be the outage itself, under a name we do not know as transient:
                    # never dead-letter then; restart and try again from the committed offset.
                    raise last_error
                dead.append(DeadLetter(item.record, f"handler-failed-{self.max_attempts}-times", last_error))
                await self._record_dead_letter(tp, item)
        return dead

    async def _record_dead_letter(self, tp: TopicPartition, item: Parsed) -> None:
        """The inbox remembers the event as dead-lettered, so a redelivery is not applied after all."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                INSERT INTO inbox (consumer_group, event_id, topic, partition, "offset", outcome)
                VALUES ($1, $2, $3, $4, $5, 'dead_lettered') ON CONFLICT DO NOTHING
                """,
                self.inbox_groups.get(tp.topic, self.group_id),
                item.envelope.event_id,
                tp.topic,
                tp.partition,
                item.record.offset,
            )

    async def _apply_tombstones(
        self, conn: asyncpg.Connection, tombstones: list[ConsumerRecord[Any, Any]]
    ) -> None:
        """A null value on a compacted topic removes the key; consumers without a tombstone handler skip it."""
        if self.on_tombstone is not None:
            for record in tombstones:
                await self.on_tombstone(UnitOfWork(Writes(conn), self.producer), record.key)

    async def _dead_letter(self, producer: AIOKafkaProducer, letter: DeadLetter) -> None:
        record = letter.record
        exception = letter.exception
        headers = [
            ("dlq.reason", letter.reason),
            ("dlq.exception", type(exception).__name__ if exception else ""),
            ("dlq.message", _short(exception)),
            ("dlq.original.topic", record.topic),
            ("dlq.original.partition", str(record.partition)),
            ("dlq.original.offset", str(record.offset)),
            ("dlq.consumer.group", self.group_id),
            ("dlq.failed.at", datetime.now(UTC).isoformat()),
        ]
        value = record.value if record.value is not None else b""
        try:
            await producer.send_and_wait(
                record.topic + DLQ_SUFFIX,
                value,
                key=record.key,
                headers=[(k, v.encode()) for k, v in headers],
            )
        except MessageSizeTooLargeError:
            # A record near the size limit (or one its producer compressed) no longer fits with our headers:
            # dead-letter it without its value, which stays at its original offset. Retrying could never
            # succeed and would hold the partition up for good.
            headers.append(("dlq.value.omitted", f"{len(value)} bytes, too large to copy"))
            await producer.send_and_wait(
                record.topic + DLQ_SUFFIX, b"", key=record.key, headers=[(k, v.encode()) for k, v in headers]
            )
        self.dead_lettered += 1
        CONSUMED.labels(self.group_id, "dead_lettered").inc()
        log.warning(
            "dead_lettered",
            group=self.group_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=letter.reason,
            exception=type(exception).__name__ if exception else None,
        )


INBOX_INSERT = """
    INSERT INTO inbox (consumer_group, event_id, topic, partition, "offset")
    SELECT g, e, t, p, o
    FROM unnest($1::text[], $2::uuid[], $3::text[], $4::integer[], $5::bigint[]) AS r(g, e, t, p, o)
    ON CONFLICT DO NOTHING
    RETURNING event_id
"""

INBOX_INSERT_SEEING_ERASURES = f"""
    WITH fresh AS ({INBOX_INSERT})
    SELECT event_id, NULL::text AS pseudonym, NULL::timestamptz AS requested_at FROM fresh
    UNION ALL
    SELECT NULL, pseudonym, max(requested_at) FROM erasures WHERE pseudonym = ANY($6::text[]) GROUP BY pseudonym
"""
"""The inbox insert that also finds which of the batch's people were erased here, in the same round trip. Reading
``erasures`` holds its share lock to the end of the transaction, so an erasure (which locks the table) waits for
this batch to commit and then finds its rows, or this batch waits for the erasure and then finds it."""


async def apply_events(
    conn: asyncpg.Connection,
    group_id: str,
    parsed: Sequence[Parsed],
    handler: Handler,
    producer: Producer,
    prefetch: Prefetch | None = None,
    inbox_groups: Mapping[str, str] = {},
    erased_people: ErasedPeople | None = None,
) -> tuple[int, int]:
    """Record the events in the inbox (under ``group_id``, or the group ``inbox_groups`` names for their topic:
    :class:`Feed`) and apply those not seen before, in the caller's transaction, each in a unit of work caused by
    its event; their outbox and audit rows and queued writes go to the server together at the end (one batched
    :class:`~dipflow.db.appends.Writes`), and ``prefetch`` reads what they all name first. With
    ``erased_people``, the events of what happened before their person's erasure are applied first and that
    person erased again, then the rest (:class:`ErasedPeople`). Returns (applied, duplicates)."""
    if not parsed:
        return 0, 0
    inbox = (
        [inbox_groups.get(p.record.topic, group_id) for p in parsed],
        [p.envelope.event_id for p in parsed],
        [p.record.topic for p in parsed],
        [p.record.partition for p in parsed],
        [p.record.offset for p in parsed],
    )
    erased: dict[str, datetime] = {}
    if erased_people is None:
        fresh = {row[0] for row in await conn.fetch(INBOX_INSERT, *inbox)}
    else:
        people = list({p.envelope.person_id for p in parsed})
        found = await conn.fetch(
            INBOX_INSERT_SEEING_ERASURES, *inbox, await erased_people.aliases(conn, people)
        )
        fresh = {row[0] for row in found if row[0] is not None}
        erased = {row[1]: row[2] for row in found if row[1] is not None}
    todo: list[Parsed] = []
    for item in parsed:
        if item.envelope.event_id in fresh:
            fresh.discard(item.envelope.event_id)
            todo.append(item)
    rest = todo
    if erased and erased_people is not None:
        # Those an erasure covers first, then the erasure again, then the rest: what happened after the
        # erasure (a new arrest) is new, and keeps the person's name.
        covered = {e.event_id for e in erased_people.covered([p.envelope for p in todo], erased)}
        if covered:
            late = [p for p in todo if p.envelope.event_id in covered]
            await _handle(conn, late, handler, producer, prefetch)
            await erased_people.erase(conn, producer, {p.envelope.person_id for p in late})
            rest = [p for p in todo if p.envelope.event_id not in covered]
    await _handle(conn, rest, handler, producer, prefetch)
    return len(todo), len(parsed) - len(todo)


async def _handle(
    conn: asyncpg.Connection,
    todo: Sequence[Parsed],
    handler: Handler,
    producer: Producer,
    prefetch: Prefetch | None,
) -> None:
    """``todo``'s events applied in order in one batched unit of work, ``prefetch`` reading first what they name."""
    if not todo:
        return
    async with batched_writes(conn) as writes:
        work = UnitOfWork(writes, producer)
        if prefetch is not None:
            await prefetch(work, [(p.envelope, p.payload) for p in todo])
        for item in todo:
            await handler(work.caused_by(item.envelope), item.envelope, item.payload)


def _by_inbox_group(
    inbox_groups: Mapping[str, str], partitions: Iterable[TopicPartition]
) -> dict[str, list[TopicPartition]]:
    found: dict[str, list[TopicPartition]] = {}
    for tp in partitions:
        if tp.topic in inbox_groups:
            found.setdefault(inbox_groups[tp.topic], []).append(tp)
    return found


def lanes(groups: list[list[TopicPartition]], count: int) -> list[list[TopicPartition]]:
    """``groups`` (of :func:`same_people`) dealt in turn to at most ``count`` lanes, each lane's partitions in
    the order dealt."""
    dealt: list[list[TopicPartition]] = [[] for _ in range(min(count, len(groups)))]
    for n, group in enumerate(groups):
        dealt[n % len(dealt)].extend(group)
    return dealt


def same_people(partitions: Iterable[TopicPartition]) -> list[list[TopicPartition]]:
    """The partitions grouped by partition number (the same people, on topics with equal partition counts),
    each group in topic order."""
    groups: dict[int, list[TopicPartition]] = {}
    for tp in sorted(partitions, key=lambda tp: (tp.partition, tp.topic)):
        groups.setdefault(tp.partition, []).append(tp)
    return list(groups.values())


@dataclass
class ParsedBatch:
    parsed: list[Parsed] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    tombstones: list[ConsumerRecord[Any, Any]] = field(default_factory=list)
    skipped: int = 0


async def parse_batch(
    registry: EventRegistry, records: Sequence[ConsumerRecord[Any, Any]], check: RecordCheck | None = None
) -> ParsedBatch:
    """Each record parsed (:func:`parse_record`), in order; every ``PARSE_SLICE`` records the event loop runs
    whatever else is waiting (requests, timers) before the next slice."""
    batch = ParsedBatch()
    for n, record in enumerate(records):
        if n and n % PARSE_SLICE == 0:
            await asyncio.sleep(0)
        if record.value is None:
            batch.tombstones.append(record)
            continue
        outcome = parse_record(registry, record, check)
        if outcome is None:
            batch.skipped += 1
        elif isinstance(outcome, DeadLetter):
            batch.dead.append(outcome)
        else:
            batch.parsed.append(outcome)
    return batch


def parse_record(
    registry: EventRegistry, record: ConsumerRecord[Any, Any], check: RecordCheck | None = None
) -> Parsed | DeadLetter | None:
    """The parsed event; a dead letter with its reason (``check`` refusing it included); or None for an event
    type this consumer skips."""
    try:
        envelope, payload = registry.parse(record.value)
        if check is not None:
            check(record, envelope)
    except Rejected as exc:
        return DeadLetter(record, exc.reason, exc)
    except SkippedEventType:
        return None
    except UnknownEventType as exc:
        return DeadLetter(record, "unknown-event-type", exc)
    except ValidationError as exc:
        return DeadLetter(record, "malformed-json" if _is_json_error(exc) else "schema-invalid", exc)
    except ValueError as exc:
        return DeadLetter(record, "malformed-json", exc)
    return Parsed(record, envelope, payload)


def _in_offset_order(
    parsed: list[Parsed], tombstones: list[ConsumerRecord[Any, Any]]
) -> list[Parsed | ConsumerRecord[Any, Any]]:
    items: list[Parsed | ConsumerRecord[Any, Any]] = [*parsed, *tombstones]
    return sorted(items, key=lambda i: i.record.offset if isinstance(i, Parsed) else i.offset)


def _is_json_error(exc: ValidationError) -> bool:
    return any(err.get("type") == "json_invalid" for err in exc.errors())


def _short(exc: BaseException | None, limit: int = 500) -> str:
    """The exception's message without values that might be personal: pydantic errors keep only locations."""
    if exc is None:
        return ""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())[:limit]
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()[:limit]

"""A consumer's lag (its readiness) counts what is left of the partitions assigned to it now: one assigned to it
again (after another instance applied more of it) is measured from its committed offset, until its next poll is
applied."""

from __future__ import annotations

import time
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition

from dipflow.events import EventRegistry
from dipflow.events.consumer import EventConsumer, _ReadAgainFromCommitted
from dipflow.uow import Producer

TP = TopicPartition("ppo.register.v1", 0)


class _Broker:
    """What ``_measure_lag`` asks of an aiokafka consumer: the assignment, each partition's end, the group's
    committed offset."""

    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()
        self.ends: dict[TopicPartition, int] = {}
        self.commits: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.commits.get(tp)


def _consumer() -> EventConsumer:
    async def handler(*_: Any) -> None:
        return None

    return EventConsumer(
        bootstrap="unused:9092",
        pool=cast(Any, None),
        group_id="custody.ppo-register",
        topics=[TP.topic],
        registry=EventRegistry(),
        handler=handler,
        producer=Producer("custody", "custody.events.v1"),
    )


async def _assign(consumer: EventConsumer, broker: _Broker, *tps: TopicPartition) -> None:
    """What aiokafka does on a rebalance: the assignment changes, then the listener hears of it."""
    broker.assigned = set(tps)
    await _ReadAgainFromCommitted(consumer._positions, _no_feeds).on_partitions_assigned(set(tps))


async def _no_feeds(assigned: set[TopicPartition]) -> None:
    return None


async def test_a_partition_got_back_after_others_applied_more_of_it_is_measured_from_its_commit() -> None:
    consumer, broker = _consumer(), _Broker()
    broker.ends, broker.commits = {TP: 5}, {TP: 5}
    await _assign(consumer, broker, TP)
    consumer._applied(cast(Any, {TP: [_Record(4)]}))  # this instance applied up to 5
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    # a rebalance gives the partition to another instance, which applies up to 9
    await _assign(consumer, broker)
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    broker.ends, broker.commits = {TP: 9}, {TP: 9}
    await _assign(consumer, broker, TP)
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    assert consumer.lag == 0
    consumer.last_progress_at = time.monotonic() - 3600
    assert not consumer.stalled()


async def test_records_not_yet_applied_of_a_partition_kept_are_lag() -> None:
    consumer, broker = _consumer(), _Broker()
    broker.ends, broker.commits = {TP: 5}, {TP: 5}
    await _assign(consumer, broker, TP)
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    broker.ends = {TP: 8}
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    assert consumer.lag == 3
    consumer.last_progress_at = time.monotonic() - 3600
    assert consumer.stalled()


async def test_a_stall_is_logged_once_with_its_reason_and_its_end_once(monkeypatch: Any) -> None:
    import dipflow.events.consumer as consumer_module

    logged: list[tuple[str, Any, Any]] = []

    class _Log:
        def warning(self, event: str, **fields: Any) -> None:
            logged.append((event, fields.get("reason"), fields.get("lag")))

        def info(self, event: str, **fields: Any) -> None:
            logged.append((event, fields.get("reason"), fields.get("lag")))

    monkeypatch.setattr(consumer_module, "log", _Log())
    consumer, broker = _consumer(), _Broker()
    consumer._down_since = None  # connected
    broker.ends, broker.commits = {TP: 8}, {TP: 5}
    await _assign(consumer, broker, TP)
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    consumer.last_progress_at = time.monotonic() - 3600
    ready = "consumer:custody.ppo-register"
    assert consumer.readiness() == consumer.readiness() == {ready: False}
    consumer.last_progress_at = time.monotonic()
    assert consumer.readiness() == consumer.readiness() == {ready: True}
    assert logged == [("consumer_stalled", "lag without progress", 3), ("consumer_unstalled", None, None)]


async def test_a_first_poll_applied_before_the_first_measure_is_not_lag() -> None:
    """A new session applies its first poll, then measures lag while that poll's offsets wait to be committed
    (every 0.5 s): the partition, quiet afterwards, must not show them as lag for ever."""
    consumer, broker = _consumer(), _Broker()
    broker.ends, broker.commits = {TP: 9}, {TP: 5}
    await _assign(consumer, broker, TP)
    consumer._applied(cast(Any, {TP: [_Record(8)]}))  # records 5..8 applied, not yet committed
    await consumer._measure_lag(cast(AIOKafkaConsumer, broker))
    assert consumer.lag == 0
    consumer.last_progress_at = time.monotonic() - 3600
    assert not consumer.stalled()


class _Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset

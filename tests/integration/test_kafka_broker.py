"""The real broker: explicit topics with their partition counts, and an aiokafka round trip."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from dipflow.kafka.admin import broker_ready, ensure_topics, wait_for_broker
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import TopicSpec, all_topics
from tests.infra import Infra


async def test_produce_and_consume_keyed_records_through_the_real_broker(
    infra: Infra, topic: str, unique: str
) -> None:
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = [(f"person-{i % 4}".encode(), f"event-{i}".encode()) for i in range(20)]
        metadata = [await producer.send_and_wait(topic, value, key=key) for key, value in sent]
    finally:
        await producer.stop()
    partition_of_key: dict[bytes, set[int]] = {}
    for (key, _), meta in zip(sent, metadata, strict=True):
        partition_of_key.setdefault(key, set()).add(meta.partition)
    assert all(len(parts) == 1 for parts in partition_of_key.values())

    consumer = AIOKafkaConsumer(
        topic,
        **kafka_consumer_options(infra.kafka_bootstrap),
        group_id=f"group-{unique}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    received.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    assert sorted(received) == sorted(sent)
    for key in partition_of_key:
        in_order = [value for k, value in received if k == key]
        assert in_order == [value for k, value in sent if k == key]


async def test_topics_are_created_with_their_declared_partitions(infra: Infra, unique: str) -> None:
    specs = all_topics(prefix=f"t{unique}.")
    created = await ensure_topics(infra.kafka_bootstrap, specs)
    assert sorted(created) == sorted(spec.name for spec in specs)
    assert await ensure_topics(infra.kafka_bootstrap, specs) == []

    admin = AIOKafkaAdminClient(**kafka_options(infra.kafka_bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics([spec.name for spec in specs])
        configs = await admin.describe_configs(
            [_topic_resource(spec.name) for spec in specs if spec.compacted]
        )
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == {spec.name: spec.partitions for spec in specs}
    cleanup = {
        entry[0]: entry[1]
        for response in configs
        for resource in response.resources
        for entry in resource[4]
        if entry[0] == "cleanup.policy"
    }
    assert cleanup == {"cleanup.policy": "compact"}


async def test_auto_create_is_off_so_only_declared_topics_exist(infra: Infra, unique: str) -> None:
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), request_timeout_ms=3000)
    await producer.start()
    try:
        partitions = await asyncio.wait_for(producer.partitions_for(f"undeclared.{unique}"), timeout=10)
    except Exception:
        partitions = None
    finally:
        await producer.stop()
    assert not partitions


async def test_broker_ready_is_false_for_a_port_nobody_listens_on(infra: Infra) -> None:
    assert await broker_ready(infra.kafka_bootstrap)
    assert not await broker_ready("127.0.0.1:1", timeout_s=1)


async def test_waiting_for_a_broker_that_never_answers_names_it_without_its_password() -> None:
    address = "sasl_ssl://admin:s3cret-Pa55@127.0.0.1:1"
    with pytest.raises(TimeoutError) as raised:
        await wait_for_broker(address, timeout_s=0.5)
    assert "admin:***@127.0.0.1:1" in str(raised.value)
    assert "s3cret-Pa55" not in str(raised.value)


def _topic_resource(name: str) -> object:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    return ConfigResource(ConfigResourceType.TOPIC, name)


_ = TopicSpec


async def test_a_record_ends_a_consumers_waiting_fetch_at_once(infra: Infra, unique: str) -> None:
    """A long fetch wait (DIPFLOW_KAFKA_FETCH_WAIT_MS) saves idle fetches without delaying the records it waits
    for: the broker answers a waiting fetch as soon as a record arrives on a partition it covers. Here the wait
    is 8 s and the record, sent while the consumer waits, is read long before that."""
    wait_s = 8.0
    topic = f"test.{unique}.wait.v1"
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    consumer = AIOKafkaConsumer(
        topic,
        **{**kafka_consumer_options(infra.kafka_bootstrap), "fetch_max_wait_ms": int(wait_s * 1000)},
        group_id=f"group-{unique}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)  # "latest" resolved: the next fetch waits at the end of the log
        await consumer.getmany(timeout_ms=300)  # a fetch is now waiting at the broker
        started = asyncio.get_running_loop().time()
        await producer.send_and_wait(topic, b"wake", key=b"k")
        received: list[bytes] = []
        while not received:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                received.extend(r.value for r in records)
            assert asyncio.get_running_loop().time() - started < wait_s / 2, "the record waited out the fetch"
        # The fetch sent after that one waits again; a record ends it, and with a record in hand the consumer
        # sends none, so stopping has no fetch to wait out.
        await producer.send_and_wait(topic, b"end the next wait", key=b"k")
        async with asyncio.timeout(30):
            while consumer.highwater(next(iter(consumer.assignment()))) != 2:
                await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        await consumer.stop()
    assert received == [b"wake"]

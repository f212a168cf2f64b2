"""Broker readiness, explicit topic creation and another consumer group's committed offsets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from dipflow.kafka.connection import kafka_options, redacted
from dipflow.topics import TopicSpec


async def broker_ready(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a broker answers a metadata request within ``timeout_s``."""
    admin = AIOKafkaAdminClient(
        **kafka_options(bootstrap), request_timeout_ms=max(1000, int(timeout_s * 1000))
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


async def wait_for_broker(bootstrap: str, timeout_s: float = 60.0) -> None:
    """Poll metadata until the broker answers; raise ``TimeoutError`` naming the address (never its password)
    otherwise. Each attempt may take longer than the last (2 s, then up to 10 s): a broker just started, its
    code still cold and its clients all reconnecting at once, can answer a TLS + SCRAM handshake in more than
    2 s on a busy machine, and a fixed 2 s would then never see it ready."""
    deadline = time.monotonic() + timeout_s
    delay, attempt_s = 0.05, 2.0
    while True:
        if await broker_ready(bootstrap, attempt_s):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Kafka at {redacted(bootstrap)} did not answer metadata within {timeout_s:.0f}s"
            )
        await asyncio.sleep(delay)
        delay, attempt_s = min(delay * 2, 1.0), min(attempt_s * 1.5, 10.0)


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], *, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet (with their partition counts); return those created."""
    wanted = {spec.name: spec for spec in specs}
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.broker_config(),
            )
            for spec in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new, timeout_ms=30000)
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def committed_offsets(
    bootstrap: str, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed for those of ``partitions`` it has committed any for."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=list(partitions))
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset >= 0}

"""The outside systems as the bench's load plays them: librdkafka producers (``confluent-kafka``), one per
system, each under that system's principal, custody's commands signed as :class:`bench.drill.OutsideSystems`
signs them. A custody suite's system runs on its own machine, not on the one the bench measures: this producer
takes from the measured machine about a quarter less CPU than aiokafka's for the same records, sent the same way
(43 and 52 against 59 and 66 us per record, runs interleaved, 400 journeys/s to one broker).

Records land where aiokafka would put them (``murmur2_random``: Java's partitioner, which aiokafka follows), so
a person's commands and events keep sharing a partition number, as the services' lanes expect."""

from __future__ import annotations

import asyncio
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bench.drill import outside_headers
from dipflow.devstack.principals import CUSTODY_SYSTEM, SYSTEMS
from dipflow.devstack.stack import StackAddresses
from dipflow.kafka.connection import KafkaAddress


def librdkafka_config(address: str, linger_ms: int) -> dict[str, Any]:
    """A dipflow Kafka address as an idempotent librdkafka producer's configuration: acknowledged by all in-sync
    replicas, partitioned as aiokafka partitions."""
    return {
        **KafkaAddress.parse(address).librdkafka_options(),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "partitioner": "murmur2_random",
        "delivery.report.only.error": True,
    }


class LoadSenders:
    """``send`` queues a record without waiting; ``flush`` returns once every record is acknowledged, and
    raises if any was not (with the first reasons); ``close`` when done."""

    def __init__(self, addresses: StackAddresses, linger_ms: int = 5) -> None:
        self.key = addresses.sender_keys[CUSTODY_SYSTEM]
        self.failures: list[str] = []
        self.producers = {
            topic: Producer(librdkafka_config(addresses.systems_kafka[system], linger_ms))
            for system, topic in SYSTEMS.items()
        }

    def _failed(self, error: KafkaError | None, _: Message) -> None:
        if error is not None:
            self.failures.append(str(error))

    def send(self, topic: str, value: bytes, key: bytes) -> None:
        headers: list[tuple[str, str | bytes | None]] = [*outside_headers(self.key, topic, value)]
        self.producers[topic].produce(topic, value, key, headers=headers, on_delivery=self._failed)

    def serve(self) -> None:
        """Hand librdkafka's delivery reports to their callbacks (errors only), without waiting."""
        for producer in self.producers.values():
            producer.poll(0)

    def close(self) -> None:
        """Stop every producer (its threads and connections), forgetting any record not yet sent."""
        for producer in self.producers.values():
            producer.purge()
            producer.close()

    async def flush(self, timeout_s: float = 120) -> None:
        for topic, producer in self.producers.items():
            left = await asyncio.to_thread(producer.flush, timeout_s)
            if left:
                raise TimeoutError(f"{left} records to {topic} not acknowledged in {timeout_s:.0f} s")
        if self.failures:
            raise RuntimeError(f"{len(self.failures)} records not delivered: {self.failures[:3]}")

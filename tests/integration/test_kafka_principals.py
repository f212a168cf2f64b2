"""The broker holds every principal to its ACLs (dipflow.devstack.principals), on a broker of this module's own
so that the records written here reach no other test's consumers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from dipflow.devstack import KafkaServer
from dipflow.devstack.catalog import consumers
from dipflow.devstack.principals import CUSTODY_SYSTEM, PROBATION_SYSTEM, produced_topics
from dipflow.devstack.services import SERVICES
from dipflow.kafka.admin import broker_ready, ensure_topics
from dipflow.kafka.clients import stop_within
from dipflow.kafka.connection import KafkaAddress, kafka_consumer_options, kafka_options
from dipflow.topics import BREACH_EVENTS, CUSTODY_COMMANDS, PPO_REGISTER, PROBATION_EVENTS, all_topics
from tests.support.own_broker import own_broker

SERVICE_NAMES = [spec.name for spec in SERVICES]
ALL_TOPICS = [spec.name for spec in all_topics()]


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaServer]:
    with own_broker("acl") as server:
        yield server


@pytest.fixture
async def topics(broker: KafkaServer) -> AsyncIterator[None]:
    await ensure_topics(broker.bootstrap, all_topics())
    yield


async def _produce(address: str, topic: str) -> None:
    producer = AIOKafkaProducer(**kafka_options(address), request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"person")
    finally:
        await stop_within(producer)


async def _read(address: str, topic: str, group: str | None = None) -> None:
    """Fetch from the topic's first partition (through ``group`` when given, committing the position). A
    topic the principal may not even describe is refused at its metadata, which aiokafka's consumer only
    logs, so that refusal is read from the metadata answer."""
    admin = AIOKafkaAdminClient(**kafka_options(address))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] == TopicAuthorizationFailedError.errno:
        raise TopicAuthorizationFailedError(topic)
    consumer = AIOKafkaConsumer(**kafka_consumer_options(address), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        await consumer.getmany(partition, timeout_ms=1000)
        if group is not None:
            await consumer.commit({partition: 0})
    finally:
        await stop_within(consumer)


def _not_produced_by(service: str) -> str:
    return next(t for t in (BREACH_EVENTS.name, CUSTODY_COMMANDS.name) if t not in produced_topics(service))


def _not_consumed_by(service: str) -> str:
    return next(t for t in (BREACH_EVENTS.name, PROBATION_EVENTS.name) if t not in consumers()[service])


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_a_service_produces_its_own_topics_and_is_refused_another_services(
    broker: KafkaServer, topics: None, service: str
) -> None:
    address = broker.address_for(service)
    for own in produced_topics(service):
        await _produce(address, own)
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(address, _not_produced_by(service))


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_a_service_reads_what_it_consumes_in_its_own_groups_and_nothing_else(
    broker: KafkaServer, topics: None, service: str
) -> None:
    address = broker.address_for(service)
    consumed = consumers()[service][0]
    await _read(address, consumed, group=f"{service}.check")
    own_events = next(topic for topic in produced_topics(service) if topic not in consumers()[service])
    for refused in (own_events, _not_consumed_by(service)):
        with pytest.raises(TopicAuthorizationFailedError):
            await _read(address, refused)
    other = next(name for name in SERVICE_NAMES if name != service)
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(address, consumed, group=f"{other}.check")


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_a_service_may_dead_letter_only_what_it_consumes(
    broker: KafkaServer, topics: None, service: str
) -> None:
    address = broker.address_for(service)
    await _produce(address, consumers()[service][0] + ".dlq")
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(address, _not_consumed_by(service) + ".dlq")


async def test_a_custody_suite_system_writes_custody_commands_only(broker: KafkaServer, topics: None) -> None:
    address = broker.address_for(CUSTODY_SYSTEM)
    await _produce(address, CUSTODY_COMMANDS.name)
    for refused in (PPO_REGISTER.name, PROBATION_EVENTS.name, "custody.events.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(address, refused)
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(address, CUSTODY_COMMANDS.name)


async def test_a_probation_system_writes_probation_events_only(broker: KafkaServer, topics: None) -> None:
    address = broker.address_for(PROBATION_SYSTEM)
    await _produce(address, PROBATION_EVENTS.name)
    for refused in (CUSTODY_COMMANDS.name, BREACH_EVENTS.name):
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(address, refused)


async def test_a_client_that_does_not_authenticate_cannot_connect(broker: KafkaServer) -> None:
    assert await broker_ready(broker.bootstrap)
    assert not await broker_ready(broker.servers, timeout_s=3), "PLAINTEXT to the SASL_SSL listener"
    producer = AIOKafkaProducer(bootstrap_servers=broker.servers, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await stop_within(producer)


async def test_a_wrong_password_is_refused(broker: KafkaServer) -> None:
    right = KafkaAddress.parse(broker.address_for("referral"))
    wrong = right.as_principal("referral", "not-the-password")
    producer = AIOKafkaProducer(**wrong.client_options(), request_timeout_ms=3000)
    with pytest.raises(KafkaError):
        await producer.start()
    await stop_within(producer)


async def _cipher(broker: KafkaServer, context: ssl.SSLContext) -> str:
    host, _, port = KafkaAddress.parse(broker.bootstrap).servers.partition(":")
    _, writer = await asyncio.open_connection(host, int(port), ssl=context)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        return str(ssl_object.cipher()[0])
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_broker_chooses_chacha20_poly1305_for_the_services_clients(broker: KafkaServer) -> None:
    context = kafka_options(broker.bootstrap)["ssl_context"]
    assert await _cipher(broker, context) == "TLS_CHACHA20_POLY1305_SHA256"


async def test_a_client_that_offers_only_tls_1_2_is_refused(broker: KafkaServer) -> None:
    context = ssl.create_default_context(cafile=KafkaAddress.parse(broker.bootstrap).cafile)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        await _cipher(broker, context)

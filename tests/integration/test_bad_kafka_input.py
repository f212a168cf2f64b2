"""Bad input on every consumed topic, for every consumer group that reads it: each bad record (tests/support/
bad_input.py) ends in the topic's dead-letter topic with its reason, or is passed over where that is the design
(another type of a producer the consumer knows, a tombstone); the good event, sent three times and replayed
twice more once applied, has its effect once, seen through the consuming service's API; and the consumer
carries on. The four services run once for the whole module."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.events import Envelope, EventPayload, new_envelope
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.privacy import ErasureRequested
from dipflow.topics import (
    CUSTODY_COMMANDS,
    CUSTODY_EVENTS,
    PPO_REGISTER,
    PRIVACY_REQUESTS,
    PROBATION_EVENTS,
    REFERRAL_EVENTS,
    TopicSpec,
    all_topics,
)
from dipflow_breach.contracts.inbound import ComplianceRecorded, OrderMade
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_breach.main import create_app as breach_app
from dipflow_breach.settings import BreachSettings
from dipflow_custody.contracts.bodies import BookIn
from dipflow_custody.contracts.consumed import RequirementProposedView
from dipflow_custody.contracts.events import DetentionBookedIn, ResultRecorded
from dipflow_custody.contracts.inbound import BookInCommand, DetentionCommand, detention_id_for
from dipflow_custody.main import create_app as custody_app
from dipflow_custody.settings import CustodySettings
from dipflow_ppo_register.contracts.events import PpoStatus, Strand
from dipflow_ppo_register.main import create_app as ppo_app
from dipflow_ppo_register.settings import PpoRegisterSettings
from dipflow_referral.contracts.events import AttendanceRecorded, FailureNotified
from dipflow_referral.main import create_app as referral_app
from dipflow_referral.settings import ReferralSettings
from tests.infra import Infra
from tests.integration.referral.stack import AUTH, MANAGER, SUITE, bearer
from tests.support.bad_input import PRODUCER_LIMIT, BadRecord, bad_records, sentinel
from tests.support.sample_app import serve
from tests.support.senders import COMMAND_SENDERS, signed_value
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(240)
LIAISON = bearer(Role.probation_liaison, "lambeth")
COORDINATOR = bearer(Role.ppo_coordinator, "lambeth")
AREA = "lambeth"  # SUITE (MET-BRIXTON) is in it


@dataclass
class Stack:
    custody: httpx.AsyncClient
    referral: httpx.AsyncClient
    ppo: httpx.AsyncClient
    breach: httpx.AsyncClient
    infra: Infra
    unique: str

    def group(self, service: str, name: str) -> str:
        return f"{service}-{self.unique}.{name}"


@pytest.fixture(scope="module")
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    """The four services, in process, on the real broker and database server; panel flags on one positive
    (P3 threshold 1) so that a single failed assessment shows in the API."""
    unique = uuid.uuid4().hex[:10]
    await ensure_topics(infra.kafka_bootstrap, all_topics())

    def common(service: str) -> dict[str, Any]:
        return {
            "service_name": f"{service}-{unique}",
            "kafka_bootstrap": infra.kafka_bootstrap,
            "database_url": server_dsn(infra.postgres_dsn, f"{service}_{unique}"),
        }

    async with AsyncExitStack() as apps:
        custody = await apps.enter_async_context(
            serve(custody_app(CustodySettings(**common("custody"), command_senders=COMMAND_SENDERS), AUTH))
        )
        referral = await apps.enter_async_context(
            serve(referral_app(ReferralSettings(**common("referral")), AUTH))
        )
        ppo = await apps.enter_async_context(
            serve(ppo_app(PpoRegisterSettings(**common("ppo"), positives_for_panel_flag=1), AUTH))
        )
        breach = await apps.enter_async_context(serve(breach_app(BreachSettings(**common("breach")), AUTH)))
        yield Stack(custody, referral, ppo, breach, infra, unique)


# -- publishing and reading dead letters ---------------------------------------------------------------------


async def send(infra: Infra, topic: str, key: str, records: list[BadRecord | bytes | None]) -> None:
    """In order, on one key (so one partition). Consecutive records go out together, so that the consumer sees
    them in one batch; compressed ones through a producer that compresses and allows records larger than the
    default limit."""
    plain = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), enable_idempotence=True, linger_ms=20)
    packing = AIOKafkaProducer(
        **kafka_options(infra.kafka_bootstrap),
        enable_idempotence=True,
        compression_type="gzip",
        max_request_size=8 * PRODUCER_LIMIT,
    )
    await plain.start()
    await packing.start()
    try:
        for compressed, run in itertools.groupby(
            records, lambda r: isinstance(r, BadRecord) and r.compressed
        ):
            producer = packing if compressed else plain
            values = [r.value if isinstance(r, BadRecord) else r for r in run]
            sent = [
                await producer.send(
                    topic, value, key=key.encode(), headers=signed_value(value) if value is not None else []
                )
                for value in values
            ]
            await asyncio.gather(*sent)
    finally:
        await plain.stop()
        await packing.stop()


async def publish(
    infra: Infra,
    topic: TopicSpec,
    person: str,
    payload: EventPayload,
    producer: str,
    at: datetime | None = None,
) -> Envelope:
    envelope = new_envelope(payload, person_id=person, producer=producer, occurred_at=at or datetime.now(UTC))
    await send(infra, topic.name, person, [envelope.to_bytes()])
    return envelope


@dataclass(frozen=True)
class Letter:
    headers: dict[str, str]
    value: bytes


class DeadLetters:
    """One consumer group's dead letters for one key on ``<topic>.dlq`` (it also holds other tests' letters)."""

    def __init__(self, infra: Infra, topic: str, group: str, key: str) -> None:
        self.group, self.key = group, key.encode()
        self.consumer = AIOKafkaConsumer(
            topic + ".dlq",
            **kafka_consumer_options(infra.kafka_bootstrap),
            auto_offset_reset="earliest",
            group_id=None,
        )
        self.found: list[Letter] = []

    async def __aenter__(self) -> DeadLetters:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def through(self, last: bytes, timeout_s: float = 45) -> list[Letter]:
        """All letters up to and including the one of ``last`` (a sentinel sent after everything else)."""
        try:
            async with asyncio.timeout(timeout_s):
                while not any(letter.value == last for letter in self.found):
                    for records in (await self.consumer.getmany(timeout_ms=300)).values():
                        for r in records:
                            headers = {k: v.decode() for k, v in r.headers}
                            if headers.get("dlq.consumer.group") == self.group and r.key == self.key:
                                self.found.append(Letter(headers, r.value or b""))
        except TimeoutError:
            raise AssertionError(f"{self.group} never dead-lettered the sentinel; got {self.found}") from None
        return list(self.found)


# -- one case per (topic, consumer group): its good event and where its effect shows -------------------------

Prepare = Callable[[Stack, str], Awaitable[Envelope]]  # set up what the effect needs; the good envelope
Effects = Callable[[Stack, str, Envelope], Awaitable[list[Any]]]  # one item per application of the good event
After = Callable[[Stack, str], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    topic: TopicSpec
    service: str
    group: str  # after the service name, as its main.py names it
    field: tuple[str, ...]  # a payload string field the consumer reads
    limited: bool  # the consumer limits the field's length
    skipped: tuple[str, ...]  # its registry's skip_other
    prepare: Prepare
    effects: Effects
    after: After | None = None  # run once the good event was applied, before looking for its effect
    refused: Callable[[str], EventPayload] | None = None  # well formed, but its handler refuses it
    refused_reason: str = "handler-failed-3-times"  # its dlq.reason


def result(pid: str, detention_id: str) -> ResultRecorded:
    return ResultRecorded(
        detention_id=detention_id,
        suite=SUITE,
        drug="cocaine",
        result="positive",
        disputed=False,
        medication_declared=None,
        confirmation_required=False,
        age=30,
        home_area=AREA,
        initial_assessment_notified=True,
        follow_up_assessment_notified=True,
    )


def failure(assessment_id: str) -> FailureNotified:
    at = datetime.now(UTC) - timedelta(days=1)
    return FailureNotified(
        assessment_id=assessment_id,
        detention_id=f"D-{assessment_id}",
        kind="initial",
        outcome="failed_to_attend",
        offence="DA05 s.12(3)",
        imposed_at=at,
        notice="RA1",
        appointment_at=at,
        place="DIP office",
        worker_id=None,
        follow_up_ended=False,
        suite=SUITE,
        area=AREA,
        rule_ids=["A4"],
    )


def ppo_status() -> PpoStatus:
    return PpoStatus(
        borough=AREA, strand=Strand.catch_and_convict, start_date=date.today() - timedelta(days=30)
    )


async def arrest_requests(s: Stack, pid: str) -> list[dict[str, Any]]:
    answer = await s.breach.get("/v1/arrest-requests", params={"area": AREA}, headers=LIAISON)
    assert answer.status_code == 200, answer.text
    return [r for r in answer.json() if r["person_id"] == pid]


# custody.commands.v1 → custody


def booking(pid: str) -> BookIn:
    return BookIn(
        person_id=pid,
        name="Kafka Person",
        date_of_birth=date(1970, 1, 1),
        home_area=AREA,
        suite=SUITE,
        arrested_at=datetime.now(UTC),
        offences=[{"code": "TA1968-s1", "offence_date": datetime.now(UTC).date()}],
    )


async def book_in_command(s: Stack, pid: str) -> Envelope:
    return new_envelope(
        BookInCommand(body=booking(pid)), person_id=pid, producer="suite", occurred_at=datetime.now(UTC)
    )


async def bookings(s: Stack, pid: str, good: Envelope) -> list[Any]:
    detention = await s.custody.get(f"/v1/detentions/{detention_id_for(good.event_id)}", headers=bearer())
    if detention.status_code != 200:
        return []
    assert detention.json()["person_id"] == pid
    audit = await s.custody.get(
        "/v1/audit", params={"person_id": pid, "action": "detention.book_in"}, headers=bearer(Role.admin, "*")
    )
    items: list[Any] = audit.json()["items"]
    return items


def unknown_detention(pid: str) -> DetentionCommand:
    return DetentionCommand(
        detention_id=str(uuid.uuid4()), action="warning", body={"at": datetime.now(UTC).isoformat()}
    )


# referral.events.v1 → custody (read by its commands group: their inbox stays that of custody.referral)


async def booked_then_proposed(s: Stack, pid: str) -> Envelope:
    booking = await book_in_command(s, pid)
    await send(s.infra, CUSTODY_COMMANDS.name, pid, [booking.to_bytes()])
    await until(lambda: bookings(s, pid, booking), "the detention to be booked in")
    proposal = RequirementProposedView(
        assessment_id=f"A-{pid}", detention_id=detention_id_for(booking.event_id)
    )
    return new_envelope(proposal, person_id=pid, producer="referral", occurred_at=datetime.now(UTC))


async def ra1_to_serve(s: Stack, pid: str, good: Envelope) -> list[Any]:
    """The proposal's assessment among those whose RA1 is to serve (a set: applied twice, it is there once)."""
    detention_id = orjson.loads(good.to_bytes())["payload"]["detention_id"]
    detention = await s.custody.get(f"/v1/detentions/{detention_id}", headers=bearer())
    assert detention.status_code == 200, detention.text
    return [a for a in detention.json()["ra1_to_serve"] if a == f"A-{pid}"]


def command_on_the_referral_topic(pid: str) -> BookInCommand:
    """A custody command on a topic that carries none: refused as a type custody does not read there, never
    applied without the command topic's signature check."""
    return BookInCommand(body=booking(pid))


# probation.events.v1 → breach


def unknown_order(pid: str) -> ComplianceRecorded:
    return ComplianceRecorded(
        order_id=f"DRR-NONE-{pid}",
        record_id=f"r-none-{pid}",
        kind=ComplianceKind.appointment_kept,
        on=date(2008, 3, 3),
    )


async def order_then_compliance(s: Stack, pid: str) -> Envelope:
    order_id = f"DRR-{pid}"
    order = OrderMade(
        order_id=order_id,
        area=AREA,
        court="Camberwell Green",
        start_date=date(2008, 1, 14),
        treatment_months=12,
        responsible_officer="PO",
    )
    await publish(s.infra, PROBATION_EVENTS, pid, order, "probation")
    await until(lambda: order_of(s, pid), "the order to be made")
    record = ComplianceRecorded(
        order_id=order_id, record_id=f"r-{pid}", kind=ComplianceKind.unacceptable_absence, on=date(2008, 3, 3)
    )
    return new_envelope(record, person_id=pid, producer="probation", occurred_at=datetime.now(UTC))


async def order_of(s: Stack, pid: str) -> dict[str, Any] | None:
    answer = await s.breach.get(f"/v1/orders/DRR-{pid}", headers=LIAISON)
    order: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
    return order


async def compliance(s: Stack, pid: str, good: Envelope) -> list[Any]:
    order = await order_of(s, pid)
    assert order is not None
    assert len(order["warnings"]) == len(order["compliance"])  # one unacceptable absence, one warning (D1)
    return list(order["compliance"])


# custody.events.v1 → referral, ppo-register, breach


async def positive_result(s: Stack, pid: str) -> Envelope:
    return new_envelope(
        result(pid, f"D-{pid}"), person_id=pid, producer="custody", occurred_at=datetime.now(UTC)
    )


async def assessments(s: Stack, pid: str, good: Envelope) -> list[Any]:
    answer = await s.referral.get("/v1/assessments", params={"area": AREA}, headers=MANAGER)
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json() if a["detention_id"] == f"D-{pid}"]


async def registered_then_positive(s: Stack, pid: str) -> Envelope:
    body = {
        "person_id": pid,
        "borough": AREA,
        "strand": "catch_and_convict",
        "start_date": (date.today() - timedelta(days=30)).isoformat(),
        "reason": "bad input test",
    }
    added = await s.ppo.post("/v1/register", json=body, headers=COORDINATOR)
    assert added.status_code == 201, added.text
    return await positive_result(s, pid)


async def positives_listed(s: Stack, pid: str, good: Envelope) -> list[Any]:
    answer = await s.ppo.get("/v1/tested-positive", params={"borough": AREA}, headers=COORDINATOR)
    assert answer.status_code == 200, answer.text
    return [
        line["last_positive_on"]
        for line in answer.json()
        if line["person_id"] == pid
        for _ in range(line["positives_in_12_months"])
    ]


async def wanted_then_booked_in(s: Stack, pid: str) -> Envelope:
    await publish(
        s.infra, REFERRAL_EVENTS, pid, failure(f"A-{pid}"), "referral", datetime.now(UTC) - timedelta(hours=2)
    )
    await until(lambda: arrest_requests(s, pid), "the arrest request to be opened")
    booked = DetentionBookedIn(
        detention_id=f"D-{pid}",
        suite=SUITE,
        arrested_at=datetime.now(UTC) - timedelta(hours=1),
        home_area=AREA,
        age=30,
        is_ppo=False,
    )
    return new_envelope(booked, person_id=pid, producer="custody", occurred_at=datetime.now(UTC))


async def arrests_made(s: Stack, pid: str, good: Envelope) -> list[Any]:
    return [r for r in await arrest_requests(s, pid) if r["arrest_detention_id"] == f"D-{pid}"]


# referral.events.v1 → ppo-register, breach


async def positive_then_failed_attendance(s: Stack, pid: str) -> Envelope:
    await publish(s.infra, CUSTODY_EVENTS, pid, result(pid, f"D-{pid}"), "custody")
    attendance = AttendanceRecorded(
        assessment_id=f"A-{pid}",
        detention_id=f"D-{pid}",
        kind="initial",
        outcome="failed_to_attend",
        good_cause=False,
        appointment_at=datetime.now(UTC),
    )
    return new_envelope(attendance, person_id=pid, producer="referral", occurred_at=datetime.now(UTC))


async def failures_flagged(s: Stack, pid: str, good: Envelope) -> list[Any]:
    answer = await s.ppo.get("/v1/panel-flags", params={"borough": AREA}, headers=COORDINATOR)
    assert answer.status_code == 200, answer.text
    return [
        f
        for flag in answer.json()
        if flag["person_id"] == pid
        for f in flag["evidence"]["failed_assessments"]
    ]


async def failure_notified(s: Stack, pid: str) -> Envelope:
    return new_envelope(
        failure(f"A-{pid}"), person_id=pid, producer="referral", occurred_at=datetime.now(UTC)
    )


async def arrests_requested(s: Stack, pid: str, good: Envelope) -> list[Any]:
    return await arrest_requests(s, pid)


# ppo.register.v1 (compacted: a tombstone removes the person) → custody, breach


async def on_register(s: Stack, pid: str) -> Envelope:
    return new_envelope(ppo_status(), person_id=pid, producer="ppo-register", occurred_at=datetime.now(UTC))


async def custody_knows_ppo(s: Stack, pid: str, good: Envelope) -> list[Any]:
    answer = await s.custody.get(f"/v1/ppo-status/{pid}", headers=bearer())
    assert answer.status_code == 200, answer.text
    return [answer.json()["borough"]] if answer.json()["is_ppo"] else []


async def then_wanted(s: Stack, pid: str) -> None:
    await publish(s.infra, REFERRAL_EVENTS, pid, failure(f"A-{pid}"), "referral")


async def fast_tracked(s: Stack, pid: str, good: Envelope) -> list[Any]:
    return [r for r in await arrest_requests(s, pid) if r["ppo"]]  # D5: the PPO fast track


# privacy.requests.v1 → all four (custody also collects the confirmations, so it skips no privacy type)


async def erasure_request(s: Stack, pid: str) -> Envelope:
    request = ErasureRequested(request_id=uuid.uuid4(), requested_by="admin-1", reason="bad input test")
    return new_envelope(request, person_id=pid, producer="custody", occurred_at=datetime.now(UTC))


def erased_by(service: str) -> Effects:
    async def erasures(s: Stack, pid: str, good: Envelope) -> list[Any]:
        request_id = orjson.loads(good.to_bytes())["payload"]["request_id"]
        client: httpx.AsyncClient = getattr(s, service)
        answer = await client.get(f"/v1/privacy/erasures/{request_id}", headers=bearer(Role.admin, "*"))
        return [answer.json()] if answer.status_code == 200 else []

    return erasures


SKIPS = ("custody.", "referral.")
CASES = {
    "custody.commands/custody": Case(
        CUSTODY_COMMANDS,
        "custody",
        "commands",
        ("body", "name"),
        True,
        (),
        book_in_command,
        bookings,
        refused=unknown_detention,
        refused_reason="unknown-detention",
    ),
    "referral.events/custody": Case(
        REFERRAL_EVENTS,
        "custody",
        "commands",
        ("assessment_id",),
        False,
        ("referral.",),
        booked_then_proposed,
        ra1_to_serve,
        refused=command_on_the_referral_topic,
        refused_reason="unknown-event-type",
    ),
    "probation.events/breach": Case(
        PROBATION_EVENTS,
        "breach",
        "probation",
        ("record_id",),
        True,
        (),
        order_then_compliance,
        compliance,
        refused=unknown_order,
    ),
    "custody.events/referral": Case(
        CUSTODY_EVENTS,
        "referral",
        "custody-events",
        ("drug",),
        False,
        ("custody.",),
        positive_result,
        assessments,
    ),
    "custody.events/ppo-register": Case(
        CUSTODY_EVENTS, "ppo", "events", ("drug",), False, SKIPS, registered_then_positive, positives_listed
    ),
    "custody.events/breach": Case(
        CUSTODY_EVENTS, "breach", "events", ("home_area",), False, SKIPS, wanted_then_booked_in, arrests_made
    ),
    "referral.events/ppo-register": Case(
        REFERRAL_EVENTS,
        "ppo",
        "events",
        ("outcome",),
        False,
        SKIPS,
        positive_then_failed_attendance,
        failures_flagged,
    ),
    "referral.events/breach": Case(
        REFERRAL_EVENTS, "breach", "events", ("area",), False, SKIPS, failure_notified, arrests_requested
    ),
    "ppo.register/custody": Case(
        PPO_REGISTER, "custody", "ppo-register", ("borough",), False, (), on_register, custody_knows_ppo
    ),
    "ppo.register/breach": Case(
        PPO_REGISTER,
        "breach",
        "ppo-register",
        ("borough",),
        False,
        (),
        on_register,
        fast_tracked,
        after=then_wanted,
    ),
    **{
        f"privacy.requests/{service}": Case(
            PRIVACY_REQUESTS,
            service,
            "privacy",
            ("reason",),
            True,
            () if service == "custody" else ("privacy.",),
            erasure_request,
            erased_by(service),
        )
        for service in ("custody", "referral", "ppo", "breach")
    },
}


@pytest.mark.parametrize("name", list(CASES))
async def test_every_bad_record_is_dead_lettered_with_its_reason_and_the_good_one_applied_once(
    stack: Stack, infra: Infra, name: str
) -> None:
    case = CASES[name]
    pid = f"L-{uuid.uuid4().hex[:10].upper()}"
    good = await case.prepare(stack, pid)
    bad = bad_records(good, case.field, limited=case.limited, skipped=case.skipped)
    if case.refused is not None:
        refused = new_envelope(
            case.refused(pid), person_id=pid, producer=good.producer, occurred_at=datetime.now(UTC)
        )
        bad.append(BadRecord("refused by its handler", refused.to_bytes(), case.refused_reason))
    first, last = sentinel(), sentinel()
    async with DeadLetters(infra, case.topic.name, stack.group(case.service, case.group), pid) as dlq:
        await send(
            infra, case.topic.name, pid, [*bad, good.to_bytes(), good.to_bytes(), good.to_bytes(), first]
        )
        await dlq.through(first)
        # replayed once applied: the inbox, not the batch, must recognise it
        await send(infra, case.topic.name, pid, [good.to_bytes(), good.to_bytes(), last])
        letters = [letter for letter in await dlq.through(last) if letter.value not in (first, last)]

    assert Counter((letter.value, letter.headers["dlq.reason"]) for letter in letters) == Counter(
        (b.value if b.copied else b"", b.reason) for b in bad if b.reason is not None
    ), [b.what for b in bad]
    for letter in letters:
        assert letter.headers["dlq.original.topic"] == case.topic.name
        assert letter.headers["dlq.exception"] and letter.headers["dlq.message"]
    # too large to copy with the dead-letter headers: dead-lettered without the value, which stays on the topic
    assert sum("dlq.value.omitted" in letter.headers for letter in letters) == sum(not b.copied for b in bad)
    if case.after is not None:
        await case.after(stack, pid)
    seen = await until(lambda: case.effects(stack, pid, good), f"the good event to have its effect ({name})")
    assert len(seen) == 1, seen
    await asyncio.sleep(0.3)  # nothing still on its way
    assert len(await case.effects(stack, pid, good)) == 1


async def test_a_record_over_the_brokers_limit_is_refused_and_never_reaches_a_consumer(infra: Infra) -> None:
    """Larger than message.max.bytes (uncompressed): the broker refuses it, whatever the producer allows."""
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap), max_request_size=4 * PRODUCER_LIMIT)
    await producer.start()
    try:
        with pytest.raises(MessageSizeTooLargeError):
            await producer.send_and_wait(CUSTODY_EVENTS.name, b"x" * (2 * PRODUCER_LIMIT), key=b"L-OVERSIZED")
    finally:
        await producer.stop()

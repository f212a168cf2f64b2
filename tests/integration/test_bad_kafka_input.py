"""Bad input on the inbound topics (custody commands from custody suites, probation's DRR events): every bad
record ends in the dead-letter topic with its reason, every good one is applied once however often it is
replayed, and the consumer carries on."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dipflow.auth import Role
from dipflow.events import Envelope, new_envelope
from dipflow.topics import CUSTODY_COMMANDS, PROBATION_EVENTS
from dipflow_breach.commands import ComplianceRecorded, OrderMade
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_custody.commands import BookInCommand
from dipflow_custody.entrypoints.bodies import BookIn
from dipflow_custody.entrypoints.kafka_commands import detention_id_for
from tests.infra import Infra
from tests.integration.breach.test_breach_scenarios import LIAISON, services
from tests.integration.referral.stack import bearer
from tests.support.bad_input import BadRecord, bad_records
from tests.support.waiting import until


async def send(infra: Infra, topic: str, key: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def dead_letters(infra: Infra, topic: str, group: str, key: str, want: int) -> list[dict[str, str]]:
    """This test's dead letters: of its consumer group and its person (the topic also holds earlier tests')."""
    consumer = AIOKafkaConsumer(topic + ".dlq", bootstrap_servers=infra.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None)  # fmt: skip
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        async with asyncio.timeout(45):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        headers = {k: v.decode() for k, v in r.headers}
                        if headers.get("dlq.consumer.group") == group and r.key == key.encode():
                            found.append(headers)
    except TimeoutError:
        raise AssertionError(f"wanted {want} dead letters from {group}, got {found}") from None
    finally:
        await consumer.stop()
    return found


def expected(bad: list[BadRecord]) -> Counter[str]:
    return Counter(b.reason for b in bad)


async def test_custody_commands_dead_letter_every_bad_record_and_apply_a_replayed_one_once(
    infra: Infra, unique: str
) -> None:
    pid = f"L-{unique.upper()}-K"
    body = BookIn(person_id=pid, name="Kafka Person", date_of_birth=date(1970, 1, 1), home_area="lambeth",
                  suite="MET-BRIXTON", arrested_at=datetime.now(UTC), offences=[{"code": "TA1968-s1",
                  "offence_date": datetime.now(UTC).date()}])  # fmt: skip
    good: Envelope = new_envelope(
        BookInCommand(body=body), person_id=pid, producer="suite", occurred_at=datetime.now(UTC)
    )
    bad = bad_records(good, ("body", "name"))
    async with services(infra, unique) as s:
        values = [b.value for b in bad] + [good.to_bytes()] * 3  # the good one replayed: applied once
        await send(infra, CUSTODY_COMMANDS.name, pid, values)
        letters = await dead_letters(
            infra, CUSTODY_COMMANDS.name, f"custody-{unique}.commands", pid, len(bad)
        )
        assert Counter(h["dlq.reason"] for h in letters) == expected(bad)
        detention = detention_id_for(good.event_id)

        async def booked() -> Any:
            answer = await s.custody.get(f"/v1/detentions/{detention}", headers=bearer())
            return answer.json() if answer.status_code == 200 else None

        assert (await until(booked, "the good command to be applied"))["person_id"] == pid
        audit = (await s.custody.get("/v1/audit", params={"person_id": pid, "action": "detention.book_in"},
                                     headers=bearer(Role.admin, "*"))).json()  # fmt: skip
        assert len(audit["items"]) == 1  # three copies, one booking


async def test_probation_events_dead_letter_every_bad_record_and_apply_replays_once(
    infra: Infra, unique: str
) -> None:
    pid, order_id = f"L-{unique.upper()}-P", f"DRR-K-{unique}"
    now = datetime.now(UTC)
    order = new_envelope(OrderMade(order_id=order_id, area="lambeth", court="Camberwell Green", start_date=date(2008, 1, 14),
                                   treatment_months=12, responsible_officer="PO"), person_id=pid, producer="probation",
                         occurred_at=now)  # fmt: skip
    record = new_envelope(ComplianceRecorded(order_id=order_id, record_id=f"r-{unique}", kind=ComplianceKind.unacceptable_absence,
                                             on=date(2008, 3, 3)), person_id=pid, producer="probation", occurred_at=now)  # fmt: skip
    bad = bad_records(order, ("court",))
    async with services(infra, unique) as s:
        values = [b.value for b in bad] + [order.to_bytes()] * 2 + [record.to_bytes()] * 3
        await send(infra, PROBATION_EVENTS.name, pid, values)
        letters = await dead_letters(
            infra, PROBATION_EVENTS.name, f"breach-{unique}.probation", pid, len(bad)
        )
        assert Counter(h["dlq.reason"] for h in letters) == expected(bad)
        assert all(h["dlq.original.topic"] == PROBATION_EVENTS.name and h["dlq.message"] != "" for h in letters
                   if h["dlq.reason"] != "unknown-event-type")  # fmt: skip

        async def applied() -> Any:
            answer = await s.breach.get(f"/v1/orders/{order_id}", headers=LIAISON)
            return answer.json() if answer.status_code == 200 and answer.json()["compliance"] else None

        seen = await until(applied, "the good records to be applied")
        assert len(seen["compliance"]) == 1 and len(seen["warnings"]) == 1

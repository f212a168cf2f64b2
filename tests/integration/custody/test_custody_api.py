"""Custody scenarios through the HTTP API against real PostgreSQL and Kafka: each test checks the API answer and
the event on the topic (the service's own relay publishes its outbox to custody.events.v1 with a test prefix
of topics, so tests do not see each other's events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options
from dipflow.topics import all_topics
from dipflow_custody.main import create_app
from dipflow_custody.settings import CustodySettings
from tests.infra import Infra
from tests.support.sample_app import serve
from tests.support.senders import COMMAND_SENDERS

SECRET = "custody-test-secret-" + "x" * 30
AUTH = AuthSettings(dev_secret=SECRET)
TOPIC = "custody.events.v1"


def bearer(role: Role = Role.custody_officer, area: str = "metropolitan") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, subject=f'{role}-1', role=role, area=area)}"}


@pytest.fixture
async def custody(infra: Infra, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    settings = CustodySettings(
        service_name=f"custody-{unique}",  # its own consumer groups: tests do not share offsets
        database_url=server_dsn(infra.postgres_dsn, f"custody_{unique}"),
        kafka_bootstrap=infra.kafka_bootstrap,
        command_senders=COMMAND_SENDERS,
    )
    async with serve(create_app(settings, auth_settings=AUTH)) as client:
        yield client


async def events_for(
    infra: Infra, person_id: str, want: int, timeout_s: float = 30, ignoring: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Envelopes on custody.events.v1 keyed by ``person_id`` (person ids are unique per test), leaving out those
    of the types in ``ignoring``."""
    consumer = AIOKafkaConsumer(
        TOPIC, **kafka_consumer_options(infra.kafka_bootstrap), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    mine = (orjson.loads(r.value) for r in records if r.key == person_id.encode())
                    found.extend(e for e in mine if e["type"] not in ignoring)
    except TimeoutError:
        raise AssertionError(
            f"wanted {want} events for {person_id}, got {[e['type'] for e in found]}"
        ) from None
    finally:
        await consumer.stop()
    return found


def book_in_body(person_id: str, age: int = 45, code: str = "TA1968-s1", **offence: Any) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "name": "Test Person",
        "date_of_birth": f"{2008 - age}-01-15",
        "home_area": "lambeth",
        "suite": "MET-BRIXTON",
        "arrested_at": "2008-06-01T10:00:00Z",
        "booked_in_at": "2008-06-01T10:20:00Z",
        "offences": [{"code": code, "offence_date": "2008-06-01", **offence}],
    }


def person(unique: str, n: int = 1) -> str:
    return f"L-{unique.upper()}-{n}"


async def test_s01_adult_arrested_for_theft_in_2008_must_be_tested_and_warned_first(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = await custody.post("/v1/detentions", json=book_in_body(pid), headers=bearer())
    assert booked.status_code == 201, booked.text
    decision = booked.json()["decision"]
    assert (decision["stage"], decision["outcome"]) == ("arrest", "required")
    assert "T1" in decision["rule_ids"] and "T6" in decision["reason"]
    did = booked.json()["detention_id"]

    early = await custody.post(
        f"/v1/detentions/{did}/sample", json={"at": "2008-06-01T10:30:00Z"}, headers=bearer()
    )
    assert early.status_code == 409 and early.json()["rule_id"] == "T6"
    warned = await custody.post(
        f"/v1/detentions/{did}/warning", json={"at": "2008-06-01T10:40:00Z"}, headers=bearer()
    )
    assert warned.status_code == 200
    taken = await custody.post(
        f"/v1/detentions/{did}/sample", json={"at": "2008-06-01T10:45:00Z"}, headers=bearer()
    )
    assert taken.status_code == 200 and taken.json()["sample_taken_at"]

    events = await events_for(infra, pid, 6)
    assert [e["type"] for e in events] == [
        "custody.booked_in",
        "custody.offence_added",
        "custody.test_decision_made",
        "custody.warning_given",
        "custody.sample_taken",
        "custody.test_decision_made",  # T8: no further sample in this detention
    ]
    assert events[-1]["payload"]["rule_ids"] == ["T8"]
    booked_event = events[0]
    assert booked_event["person_id"] == pid and booked_event["payload"]["age"] == 45
    assert "Test Person" not in orjson.dumps(events).decode()  # no names on the topic
    decided = next(e for e in events if e["type"] == "custody.test_decision_made")
    assert (
        decided["payload"]["outcome"] == "required"
        and decided["correlation_id"] == booked_event["correlation_id"]
    )


async def test_s08_heroin_possession_is_a_trigger_and_s09_cannabis_needs_an_inspector(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    heroin = await custody.post(
        "/v1/detentions",
        json=book_in_body(person(unique, 1), 30, "MDA1971-s5(2)", drug="heroin", drug_class="A"),
        headers=bearer(),
    )
    misclassed = await custody.post(
        "/v1/detentions",
        json=book_in_body(person(unique, 2), 30, "MDA1971-s5(2)", drug="cannabis", drug_class="B"),
        headers=bearer(),
    )
    # cannabis was Class C from 29 Jan 2004 to 25 Jan 2009: the class comes from the drug vocabulary (T14)
    assert misclassed.status_code == 422
    assert misclassed.json()["errors"][0]["field"].endswith("drug_class")
    assert "cannabis was Class C on 01 Jun 2008" in misclassed.json()["errors"][0]["reason"]
    cannabis = await custody.post(
        "/v1/detentions",
        json=book_in_body(person(unique, 2), 30, "MDA1971-s5(2)", drug="cannabis"),
        headers=bearer(),
    )
    assert heroin.json()["decision"]["outcome"] == "required"
    assert cannabis.json()["decision"]["outcome"] == "needs_authorisation"
    offence_events = [
        e for e in await events_for(infra, person(unique, 2), 3) if e["type"] == "custody.offence_added"
    ]
    assert offence_events[0]["payload"]["trigger_offence"] is False
    assert offence_events[0]["payload"]["drug_class"] == "C"

    did = cannabis.json()["detention_id"]
    by_officer = await custody.post(
        f"/v1/detentions/{did}/inspector-decision",
        json={"decision": "authorised", "rank": "inspector", "grounds": "smelled of crack smoke"},
        headers=bearer(),
    )
    assert by_officer.status_code == 403
    authorised = await custody.post(
        f"/v1/detentions/{did}/inspector-decision",
        json={"decision": "authorised", "rank": "inspector", "grounds": "Class A misuse suspected"},
        headers=bearer(Role.inspector),
    )
    assert authorised.status_code == 200 and authorised.json()["decision"]["outcome"] == "required"
    assert "T3" in authorised.json()["decision"]["rule_ids"]


async def test_s11_warned_refusal_without_good_cause_is_an_offence(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    did = (await custody.post("/v1/detentions", json=book_in_body(pid), headers=bearer())).json()[
        "detention_id"
    ]
    claimed = await custody.post(
        f"/v1/detentions/{did}/refusal",
        json={"good_cause": False, "as_offence": True, "at": "2008-06-01T10:35:00Z"},
        headers=bearer(),
    )
    assert claimed.status_code == 409 and claimed.json()["rule_id"] == "T6"
    await custody.post(f"/v1/detentions/{did}/warning", json={"at": "2008-06-01T10:40:00Z"}, headers=bearer())
    refused = await custody.post(
        f"/v1/detentions/{did}/refusal",
        json={"good_cause": False, "at": "2008-06-01T10:45:00Z"},
        headers=bearer(),
    )
    assert refused.status_code == 200
    refusal = next(e for e in await events_for(infra, pid, 5) if e["type"] == "custody.refusal_recorded")
    assert refusal["payload"]["offence"] is True and "T11" in refusal["payload"]["reason"]


async def test_s12_no_second_sample_after_a_further_arrest(custody: httpx.AsyncClient, unique: str) -> None:
    did = (await custody.post("/v1/detentions", json=book_in_body(person(unique)), headers=bearer())).json()[
        "detention_id"
    ]
    await custody.post(f"/v1/detentions/{did}/warning", json={"at": "2008-06-01T10:40:00Z"}, headers=bearer())
    assert (
        await custody.post(
            f"/v1/detentions/{did}/sample", json={"at": "2008-06-01T10:45:00Z"}, headers=bearer()
        )
    ).status_code == 200
    further = await custody.post(
        f"/v1/detentions/{did}/offences",
        json={"offence": {"code": "TA1968-s9", "offence_date": "2008-05-30"}, "further_arrest": True},
        headers=bearer(),
    )
    assert further.status_code == 200 and further.json()["decision"]["rule_ids"] == ["T8"]
    second = await custody.post(
        f"/v1/detentions/{did}/sample", json={"at": "2008-06-01T12:00:00Z"}, headers=bearer()
    )
    assert second.status_code == 409 and second.json()["rule_id"] == "T8"
    assert second.headers["content-type"] == "application/problem+json"


async def test_bad_input_unknown_code_unknown_suite_result_before_sample_and_other_force(
    custody: httpx.AsyncClient, unique: str
) -> None:
    unknown = await custody.post(
        "/v1/detentions", json=book_in_body(person(unique), code="TA1968-s99"), headers=bearer()
    )
    assert unknown.status_code == 422 and "TA1968-s1" in unknown.json()["known_codes"]
    suite = await custody.post(
        "/v1/detentions", json={**book_in_body(person(unique)), "suite": "NOWHERE"}, headers=bearer()
    )
    assert suite.status_code == 422 and "MET-BRIXTON" in suite.json()["errors"][0]["reason"]
    other_force = await custody.post(
        "/v1/detentions", json=book_in_body(person(unique)), headers=bearer(area="west-midlands")
    )
    assert other_force.status_code == 403
    analyst = await custody.post(
        "/v1/detentions", json=book_in_body(person(unique)), headers=bearer(Role.analyst)
    )
    assert analyst.status_code == 403
    did = (await custody.post("/v1/detentions", json=book_in_body(person(unique)), headers=bearer())).json()[
        "detention_id"
    ]
    early = await custody.post(
        f"/v1/detentions/{did}/results", json={"drug": "cocaine", "result": "positive"}, headers=bearer()
    )
    assert early.status_code == 409 and early.json()["rule_id"] == "T12"


async def test_same_idempotency_key_books_in_once(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    headers = {**bearer(), "Idempotency-Key": f"book-{unique}"}
    first = await custody.post("/v1/detentions", json=book_in_body(pid), headers=headers)
    again = await custody.post("/v1/detentions", json=book_in_body(pid), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["detention_id"] == again.json()["detention_id"]
    events = await events_for(infra, pid, 3)
    await asyncio.sleep(1.0)
    assert [e["type"] for e in await events_for(infra, pid, 3)].count("custody.booked_in") == 1
    assert events


async def test_the_test_record_for_the_person_has_their_name_the_test_and_its_result_for_the_officer_only(
    custody: httpx.AsyncClient, unique: str
) -> None:
    pid = person(unique)
    did = (await custody.post("/v1/detentions", json=book_in_body(pid), headers=bearer())).json()[
        "detention_id"
    ]
    for action, body in (
        ("warning", {"at": "2008-06-01T10:40:00Z"}),
        ("sample", {"at": "2008-06-01T10:45:00Z"}),
        ("results", {"drug": "cocaine", "result": "positive"}),
    ):
        done = await custody.post(f"/v1/detentions/{did}/{action}", json=body, headers=bearer())
        assert done.status_code == 200, done.text

    record = await custody.get(f"/v1/detentions/{did}/test-record", headers=bearer())
    assert record.status_code == 200, record.text
    found = record.json()
    assert (found["name"], found["date_of_birth"]) == ("Test Person", "1963-01-15")
    detention = found["detention"]
    assert detention["results"] == {"cocaine": "positive"} and detention["results_withheld"] is None
    assert (detention["warned_at"], detention["sample_taken_at"]) == (
        "2008-06-01T10:40:00Z",
        "2008-06-01T10:45:00Z",
    )
    for refused in (
        bearer(Role.inspector),
        bearer(area="west-midlands"),
        bearer(Role.court_liaison, "lambeth"),
    ):
        answer = await custody.get(f"/v1/detentions/{did}/test-record", headers=refused)
        assert answer.status_code == 403, answer.text

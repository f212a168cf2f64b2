"""The PPO register against real PostgreSQL and Kafka: changes on the compacted topic in order, a fresh
consumer rebuilds the whole register, history answers "as of" a date, access by borough."""

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
from dipflow.topics import PPO_REGISTER, all_topics
from dipflow_ppo_register.main import create_app
from dipflow_ppo_register.settings import PpoRegisterSettings
from tests.infra import Infra
from tests.support.sample_app import serve

SECRET = "ppo-test-secret-" + "x" * 30


def bearer(role: Role = Role.ppo_coordinator, area: str = "camden") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, subject=f'{role}-{area}', role=role, area=area)}"}


@pytest.fixture
async def ppo(infra: Infra, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    settings = PpoRegisterSettings(
        service_name=f"ppo-{unique}",
        database_url=server_dsn(infra.postgres_dsn, f"ppo_{unique}"),
        kafka_bootstrap=infra.kafka_bootstrap,
    )
    async with serve(create_app(settings, AuthSettings(dev_secret=SECRET))) as client:
        yield client


async def topic_records(infra: Infra, keys: set[str], want: int) -> list[tuple[str, dict[str, Any] | None]]:
    """(key, envelope or None for a tombstone) for ``keys``, in topic order per partition, from the start."""
    consumer = AIOKafkaConsumer(
        PPO_REGISTER.name,
        **kafka_consumer_options(infra.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, dict[str, Any] | None]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        if r.key.decode() in keys:
                            found.append(
                                (r.key.decode(), orjson.loads(r.value) if r.value is not None else None)
                            )
    except TimeoutError:
        raise AssertionError(f"wanted {want} records, got {found}") from None
    finally:
        await consumer.stop()
    return found


def add_body(
    pid: str, borough: str = "camden", strand: str = "catch_and_convict", start: str = "2008-01-07"
) -> dict[str, str]:
    return {
        "person_id": pid,
        "borough": borough,
        "strand": strand,
        "start_date": start,
        "reason": "panel decision",
    }


async def test_changes_appear_on_the_compacted_topic_in_order_and_a_fresh_consumer_rebuilds_the_register(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    a, b, c = (f"L-{unique.upper()}-{n}" for n in "ABC")
    coordinator = bearer()
    assert (await ppo.post("/v1/register", json=add_body(a), headers=coordinator)).status_code == 201
    assert (await ppo.post("/v1/register", json=add_body(b), headers=coordinator)).status_code == 201
    moved = await ppo.post(
        "/v1/register",
        json=add_body(a, strand="rehabilitate_and_resettle", start="2008-06-01"),
        headers=coordinator,
    )
    assert moved.status_code == 201
    removed = await ppo.post(
        f"/v1/register/{b}/end", json={"end_date": "2008-09-30", "reason": "moved away"}, headers=coordinator
    )
    assert removed.status_code == 200
    assert (
        await ppo.post("/v1/register", json=add_body(c, start="2008-02-01"), headers=coordinator)
    ).status_code == 201

    records = await topic_records(infra, {a, b, c}, 5)
    per_key = {
        k: [r if r is None else r["payload"]["strand"] for kk, r in records if kk == k] for k in (a, b, c)
    }
    assert per_key == {
        a: ["catch_and_convict", "rehabilitate_and_resettle"],
        b: ["catch_and_convict", None],
        c: ["catch_and_convict"],
    }

    rebuilt: dict[str, dict[str, Any]] = {}
    for key, record in records:  # what a new consumer of the compacted topic ends up with
        if record is None:
            rebuilt.pop(key, None)
        else:
            rebuilt[key] = record["payload"]
    current = (await ppo.get("/v1/register", params={"borough": "camden"}, headers=coordinator)).json()
    assert {p["person_id"]: p["strand"] for p in current if p["person_id"] in {a, b, c}} == {
        k: v["strand"] for k, v in rebuilt.items()
    }


async def test_history_answers_as_of_a_date(ppo: httpx.AsyncClient, unique: str) -> None:
    pid = f"L-{unique.upper()}-H"
    coordinator = bearer()
    await ppo.post("/v1/register", json=add_body(pid, start="2007-05-01"), headers=coordinator)
    await ppo.post(
        f"/v1/register/{pid}/end",
        json={"end_date": "2008-02-29", "reason": "deselected"},
        headers=coordinator,
    )

    def present(answer: httpx.Response) -> bool:
        return pid in [p["person_id"] for p in answer.json()]

    assert present(
        await ppo.get(
            "/v1/register", params={"borough": "camden", "as_of": "2008-02-29"}, headers=coordinator
        )
    )
    assert not present(
        await ppo.get(
            "/v1/register", params={"borough": "camden", "as_of": "2008-03-01"}, headers=coordinator
        )
    )
    assert not present(
        await ppo.get(
            "/v1/register", params={"borough": "camden", "as_of": "2007-04-30"}, headers=coordinator
        )
    )
    history = (await ppo.get(f"/v1/register/{pid}/history", headers=coordinator)).json()
    assert [(h["start_date"], h["end_date"], h["end_reason"]) for h in history] == [
        ("2007-05-01", "2008-02-29", "deselected")
    ]


async def test_coordinators_maintain_only_their_borough_and_analysts_cannot_read_people(
    ppo: httpx.AsyncClient, unique: str
) -> None:
    pid = f"L-{unique.upper()}-X"
    assert (
        await ppo.post("/v1/register", json=add_body(pid, borough="brent"), headers=bearer(area="camden"))
    ).status_code == 403
    assert (
        await ppo.post("/v1/register", json=add_body(pid, borough="brent"), headers=bearer(area="brent"))
    ).status_code == 201
    again = await ppo.post("/v1/register", json=add_body(pid, borough="brent"), headers=bearer(area="brent"))
    assert again.status_code == 409 and again.json()["rule_id"] == "P1"
    assert (await ppo.get(f"/v1/register/{pid}/history", headers=bearer(area="camden"))).status_code == 403
    # a move ends the period in brent: camden's coordinators cannot do that
    moved = add_body(pid, borough="camden", start="2008-06-01")
    assert (await ppo.post("/v1/register", json=moved, headers=bearer(area="camden"))).status_code == 403
    assert (
        await ppo.get("/v1/register", params={"borough": "brent"}, headers=bearer(Role.analyst, "*"))
    ).status_code == 403
    assert (
        await ppo.post(
            f"/v1/register/{pid}/end",
            json={"end_date": "2009-01-01", "reason": "not mine to end"},
            headers=bearer(area="camden"),
        )
    ).status_code == 403

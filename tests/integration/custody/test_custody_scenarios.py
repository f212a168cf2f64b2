"""More of S01-S15 through the custody HTTP API with real PostgreSQL and Kafka, checking the answer and the
events on custody.events.v1 (PPO status arrives over the compacted topic ppo.register.v1)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.events import new_envelope
from dipflow.kafka.connection import kafka_options
from dipflow.topics import PPO_REGISTER
from dipflow_ppo_register.contracts.events import PpoStatus, Strand
from tests.infra import Infra
from tests.integration.custody.test_custody_api import bearer, book_in_body, custody, events_for, person

__all__ = ["custody"]


@pytest.mark.parametrize(
    ("scenario", "age", "code", "extra", "suite", "outcome", "rule"),
    [
        ("S02", 17, "TA1968-s9", {}, "MET-BRIXTON", "not_allowed", "T1"),
        ("S05", 30, "TA1968-s1", {}, "MET-STOKE-NEWINGTON", "not_allowed", "T1"),
        ("S06", 30, "CJA1988-s39", {}, "MET-BRIXTON", "needs_authorisation", "T3"),
        ("S10", 30, "TA1968-s9", {"attempt": True}, "MET-BRIXTON", "required", "T1"),
    ],
)
async def test_decision_on_arrest(
    custody: httpx.AsyncClient,
    infra: Infra,
    unique: str,
    scenario: str,
    age: int,
    code: str,
    extra: dict[str, object],
    suite: str,
    outcome: str,
    rule: str,
) -> None:
    pid = person(unique)
    body = {**book_in_body(pid, age, code, **extra), "suite": suite}
    booked = await custody.post("/v1/detentions", json=body, headers=bearer())
    assert booked.status_code == 201, booked.text
    decision = booked.json()["decision"]
    assert decision["outcome"] == outcome and rule in decision["rule_ids"], scenario
    decided = [e for e in await events_for(infra, pid, 3) if e["type"] == "custody.test_decision_made"]
    assert decided[0]["payload"]["outcome"] == outcome


async def _last_decision(infra: Infra, pid: str) -> dict[str, object]:
    events = await events_for(infra, pid, 5)
    assert [e["type"] for e in events][3] == "custody.charged"
    last: dict[str, object] = [e for e in events if e["type"] == "custody.test_decision_made"][-1]["payload"]
    return last


async def test_s03_s05_charge_moves_the_decision_to_the_charge_stage(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    juvenile = book_in_body(person(unique, 1), 17, "TA1968-s9")
    did = (await custody.post("/v1/detentions", json=juvenile, headers=bearer())).json()["detention_id"]
    charged = await custody.post(
        f"/v1/detentions/{did}/charge",
        json={"codes": ["TA1968-s9"], "at": "2008-06-01T12:00:00Z"},
        headers=bearer(),
    )
    decision = charged.json()["decision"]
    assert (decision["stage"], decision["outcome"]) == ("charge", "required")
    assert decision["appropriate_adult_required"] and "T5" in decision["rule_ids"]
    on_topic = await _last_decision(infra, person(unique, 1))
    assert (on_topic["stage"], on_topic["outcome"], on_topic["appropriate_adult_required"]) == (
        "charge",
        "required",
        True,
    )

    adult = {**book_in_body(person(unique, 2), 30), "suite": "MET-STOKE-NEWINGTON"}
    did2 = (await custody.post("/v1/detentions", json=adult, headers=bearer())).json()["detention_id"]
    after = await custody.post(
        f"/v1/detentions/{did2}/charge",
        json={"codes": ["TA1968-s1"], "at": "2008-06-01T12:00:00Z"},
        headers=bearer(),
    )
    assert after.json()["decision"]["outcome"] == "required"
    assert (await _last_decision(infra, person(unique, 2)))["outcome"] == "required"


async def test_s04_thirteen_year_old_charged_with_robbery_is_not_tested(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    did = (
        await custody.post(
            "/v1/detentions", json=book_in_body(person(unique), 13, "TA1968-s8"), headers=bearer()
        )
    ).json()["detention_id"]
    charged = await custody.post(
        f"/v1/detentions/{did}/charge",
        json={"codes": ["TA1968-s8"], "at": "2008-06-01T12:00:00Z"},
        headers=bearer(),
    )
    assert charged.json()["decision"]["outcome"] == "not_allowed" and charged.json()["decision"][
        "rule_ids"
    ] == ["T2"]
    on_topic = await _last_decision(infra, person(unique))
    assert (on_topic["stage"], on_topic["rule_ids"]) == ("charge", ["T2"])


async def test_s07_ppo_arrested_for_criminal_damage_needs_an_inspector_decision(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    status = new_envelope(
        PpoStatus(borough="lambeth", strand=Strand.catch_and_convict, start_date=date(2007, 4, 1)),
        person_id=pid,
        producer="ppo-register",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    await producer.send_and_wait(PPO_REGISTER.name, status.to_bytes(), key=status.key)
    await producer.stop()
    await _until_local_register(infra, unique, pid, present=True)

    booked = await custody.post("/v1/detentions", json=book_in_body(pid, 30, "CDA1971-s1"), headers=bearer())
    decision = booked.json()["decision"]
    assert decision["inspector_decision_requested"] and "T4" in decision["rule_ids"]
    events = await events_for(infra, pid, 4)
    assert events[0]["payload"]["is_ppo"] is True
    requested = next(e for e in events if e["type"] == "custody.inspector_decision_requested")
    assert "PPO" in requested["payload"]["reason"]
    did = booked.json()["detention_id"]
    waiting = await custody.get(
        "/v1/inspector-requests", params={"suite": "MET-BRIXTON"}, headers=bearer(Role.inspector)
    )
    assert did in [w["detention_id"] for w in waiting.json()]
    decided = await custody.post(
        f"/v1/detentions/{did}/inspector-decision",
        json={"decision": "declined", "rank": "inspector", "grounds": "no sign of Class A misuse"},
        headers=bearer(Role.inspector),
    )
    assert decided.json()["decision"]["outcome"] == "not_allowed"
    waiting = await custody.get(
        "/v1/inspector-requests", params={"suite": "MET-BRIXTON"}, headers=bearer(Role.inspector)
    )
    assert did not in [w["detention_id"] for w in waiting.json()]

    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    await producer.send_and_wait(PPO_REGISTER.name, None, key=status.key)  # removed from the register
    await producer.stop()
    await _until_local_register(infra, unique, pid, present=False)


async def _until_local_register(infra: Infra, unique: str, pid: str, *, present: bool) -> None:
    conn = await asyncpg.connect(server_dsn(infra.postgres_dsn, f"custody_{unique}"))
    try:
        async with asyncio.timeout(30):
            while (
                bool(await conn.fetchval("SELECT 1 FROM ppo_register WHERE person_id = $1", pid)) != present
            ):
                await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def test_s13_charged_at_ten_with_no_sample_by_sixteen_the_deadline_passes(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    now = datetime.now(UTC)
    charged_at = now - timedelta(hours=6, minutes=1)  # "charged at 10:00, and it is now past 16:00"
    body = {
        **book_in_body(pid),
        "arrested_at": (now - timedelta(hours=8)).isoformat(),
        "booked_in_at": (now - timedelta(hours=7, minutes=50)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": (now - timedelta(hours=8)).date().isoformat()}],
    }
    did = (await custody.post("/v1/detentions", json=body, headers=bearer())).json()["detention_id"]
    charged = await custody.post(
        f"/v1/detentions/{did}/charge",
        json={"codes": ["TA1968-s1"], "at": charged_at.isoformat()},
        headers=bearer(),
    )
    assert charged.json()["decision"]["outcome"] == "required"
    events = await events_for(infra, pid, 6)
    passed = [e for e in events if e["type"] == "custody.deadline_passed"]
    assert [p["payload"]["deadline"] for p in passed] == ["hold_after_charge"]
    assert datetime.fromisoformat(passed[0]["payload"]["due_at"]) == charged_at + timedelta(hours=6)
    await custody.post(f"/v1/detentions/{did}/warning", json={}, headers=bearer())
    late = await custody.post(f"/v1/detentions/{did}/sample", json={}, headers=bearer())
    assert late.status_code == 409 and late.json()["rule_id"] == "T10"


async def _sampled_on(custody: httpx.AsyncClient, pid: str, day: str) -> str:
    body = {
        **book_in_body(pid, 25),
        "arrested_at": f"{day}T10:00:00Z",
        "booked_in_at": f"{day}T10:20:00Z",
        "offences": [{"code": "TA1968-s1", "offence_date": day}],
    }
    did: str = (await custody.post("/v1/detentions", json=body, headers=bearer())).json()["detention_id"]
    await custody.post(f"/v1/detentions/{did}/warning", json={"at": f"{day}T10:30:00Z"}, headers=bearer())
    taken = await custody.post(
        f"/v1/detentions/{did}/sample", json={"at": f"{day}T10:40:00Z"}, headers=bearer()
    )
    assert taken.status_code == 200, taken.text
    return did


async def test_s14_s15_results_carry_the_assessment_facts_and_the_exemption_starts_10_september_2008(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """S15 (T12): an opiate positive accepted as heroin use with medication declared needs no confirmation only
    for samples from 10 Sep 2008 (this test asserted it for a June 2008 sample before: the wrong law)."""
    exemption = {
        "drug": "opiates",
        "result": "positive",
        "medication_declared": "methadone",
        "disputed": True,
        "accepts_heroin_use": True,
    }
    expected = {"2008-06-01": True, "2008-09-09": True, "2008-09-10": False}
    for n, (day, confirmation) in enumerate(expected.items(), start=1):
        pid = person(unique, n)
        did = await _sampled_on(custody, pid, day)
        negative = await custody.post(
            f"/v1/detentions/{did}/results",
            json={"drug": "cocaine", "result": "negative", "at": f"{day}T10:50:00Z"},
            headers=bearer(),
        )
        opiates = await custody.post(
            f"/v1/detentions/{did}/results", json={**exemption, "at": f"{day}T10:55:00Z"}, headers=bearer()
        )
        assert negative.status_code == opiates.status_code == 200, opiates.text
        awaiting = (opiates.json()["confirmation"] or {}).get("awaiting", [])
        assert awaiting == (["opiates"] if confirmation else [])
        results = {
            e["payload"]["drug"]: e["payload"]
            for e in await events_for(infra, pid, 8)
            if e["type"] == "custody.result_recorded"
        }
        assert results["cocaine"]["result"] == "negative"
        assert results["opiates"]["result"] == "positive"
        assert results["opiates"]["confirmation_required"] is confirmation, day
        assert results["opiates"]["age"] == 25 and results["opiates"]["home_area"] == "lambeth"
        # MET-BRIXTON is in lambeth, notified for initial and follow-up assessments from April 2005 (seed data)
        assert results["opiates"]["initial_assessment_notified"] is True
        assert results["opiates"]["follow_up_assessment_notified"] is True

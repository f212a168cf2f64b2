"""Custody and referral services side by side (in-process apps, real Kafka and PostgreSQL) for the referral
tests: custody systems and workers drive them only through their APIs; events flow over the real topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.devstack import free_port
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options
from dipflow.topics import all_topics
from dipflow_custody.main import create_app as custody_app
from dipflow_custody.settings import CustodySettings
from dipflow_referral.main import create_app as referral_app
from dipflow_referral.settings import ReferralSettings
from tests.infra import Infra
from tests.support.sample_app import serve

SECRET = "referral-test-secret-" + "x" * 30
AUTH = AuthSettings(dev_secret=SECRET)
SUITE = "MET-BRIXTON"  # lambeth: notified for initial and follow-up assessment and restriction on bail


def bearer(
    role: Role = Role.custody_officer, area: str = "metropolitan", worker_id: str | None = None
) -> dict[str, str]:
    token = mint_token(SECRET, subject=f"{role}-{worker_id or 1}", role=role, area=area, worker_id=worker_id)
    return {"Authorization": f"Bearer {token}"}


MANAGER = bearer(Role.referral_manager, "lambeth")


def worker_token(worker_id: str) -> dict[str, str]:
    return bearer(Role.referral_worker, "lambeth", worker_id)


@dataclass
class Stack:
    custody: httpx.AsyncClient
    referral: httpx.AsyncClient
    unique: str

    def person(self, n: int = 1) -> str:
        return f"L-{self.unique.upper()}-{n}"

    async def add_worker(self, worker_id: str, capacity: int = 4, **extra: Any) -> None:
        body = {
            "worker_id": f"{worker_id}-{self.unique}",
            "name": "Worker",
            "area": "lambeth",
            "suites": [SUITE],
            "daily_capacity": capacity,
            **extra,
        }
        answer = await self.referral.post("/v1/workers", json=body, headers=MANAGER)
        assert answer.status_code == 201, answer.text

    def wid(self, worker_id: str) -> str:
        return f"{worker_id}-{self.unique}"

    async def positive(
        self,
        pid: str,
        at: datetime,
        drug: str = "cocaine",
        *,
        code: str = "TA1968-s1",
        disputed: bool = False,
        age: int = 30,
        charge: bool = False,
        **offence: Any,
    ) -> str:
        """Book in, warn, sample and record a positive result through the custody API; the detention id."""
        dob = f"{at.year - age - 1}-01-15"
        body = {
            "person_id": pid,
            "name": "Test Person",
            "date_of_birth": dob,
            "home_area": "lambeth",
            "suite": SUITE,
            "arrested_at": at.isoformat(),
            "booked_in_at": (at + timedelta(minutes=10)).isoformat(),
            "offences": [{"code": code, "offence_date": at.date().isoformat(), **offence}],
        }
        booked = await self.custody.post("/v1/detentions", json=body, headers=bearer())
        assert booked.status_code == 201, booked.text
        did: str = booked.json()["detention_id"]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("warning", {"at": (at + timedelta(minutes=20)).isoformat()})
        ]
        if charge:
            steps.insert(0, ("charge", {"codes": [code], "at": (at + timedelta(minutes=15)).isoformat()}))
        steps += [
            ("sample", {"at": (at + timedelta(minutes=30)).isoformat()}),
            (
                "results",
                {
                    "drug": drug,
                    "result": "positive",
                    "disputed": disputed,
                    "at": (at + timedelta(minutes=50)).isoformat(),
                },
            ),
        ]
        for action, payload in steps:
            done = await self.custody.post(f"/v1/detentions/{did}/{action}", json=payload, headers=bearer())
            assert done.status_code == 200, (action, done.text)
        return did

    async def custody_action(self, did: str, action: str, payload: dict[str, Any]) -> None:
        done = await self.custody.post(f"/v1/detentions/{did}/{action}", json=payload, headers=bearer())
        assert done.status_code == 200, (action, done.text)

    async def assessment_for(
        self, did: str, ready: Callable[[dict[str, Any]], bool] = lambda _: True, timeout_s: float = 30
    ) -> dict[str, Any]:
        """Wait until the referral service holds the assessment for ``did`` (and ``ready`` holds)."""
        last: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    answer = await self.referral.get(
                        "/v1/assessments", params={"area": "lambeth"}, headers=MANAGER
                    )
                    assert answer.status_code == 200, answer.text
                    found: list[dict[str, Any]] = [a for a in answer.json() if a["detention_id"] == did]
                    last = found[0] if found else None
                    if last is not None and ready(last):
                        return last
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"assessment for {did} never became ready; last {last}") from None

    async def bail_case(
        self, did: str, ready: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        last: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(30):
                while True:
                    answer = await self.referral.get(
                        "/v1/bail-cases",
                        params={"area": "lambeth"},
                        headers=bearer(Role.court_liaison, "lambeth"),
                    )
                    assert answer.status_code == 200, answer.text
                    cases: list[dict[str, Any]] = [c for c in answer.json() if c["detention_id"] == did]
                    last = cases[0] if cases else None
                    if last is not None and ready(last):
                        return last
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"bail case for {did} never became ready; last {last}") from None


def _settings(
    infra: Infra, unique: str, **referral_settings: Any
) -> tuple[CustodySettings, ReferralSettings]:
    custody = CustodySettings(
        service_name=f"custody-{unique}",
        database_url=server_dsn(infra.postgres_dsn, f"custody_{unique}"),
        kafka_bootstrap=infra.kafka_bootstrap,
    )
    referral = ReferralSettings(
        service_name=f"referral-{unique}",
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=server_dsn(infra.postgres_dsn, f"referral_{unique}"),
        **referral_settings,
    )
    return custody, referral


@asynccontextmanager
async def running_stack(infra: Infra, unique: str, **referral_settings: Any) -> AsyncIterator[Stack]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    custody, referral = _settings(infra, unique, **referral_settings)
    async with serve(custody_app(custody, AUTH)) as c, serve(referral_app(referral, AUTH)) as r:
        yield Stack(c, r, unique)


@asynccontextmanager
async def uvicorn_app(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on a real port (streaming responses need a real server); yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def referral_events(
    infra: Infra, person_id: str, types: set[str], want: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    """Envelopes of ``types`` on referral.events.v1 keyed by ``person_id``, in order."""
    import orjson
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "referral.events.v1",
        **kafka_consumer_options(infra.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        if r.key == person_id.encode():
                            event = orjson.loads(r.value)
                            if event["type"] in types:
                                found.append(event)
    except TimeoutError:
        raise AssertionError(
            f"wanted {want} of {types} for {person_id}, got {[e['type'] for e in found]}"
        ) from None
    finally:
        await consumer.stop()
    return found

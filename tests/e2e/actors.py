"""The people of the end-to-end tests, each with their own token, driving the four services' public APIs on
the real ports (as a custody system, a referral manager, a worker and the liaisons would)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dipflow.auth import Role
from tests.e2e.system import System, until

SUITE = "MET-BRIXTON"
SERVICE_NAMES = ("custody", "referral", "ppo-register", "breach")


class Actors:
    """``prefix`` marks this module's person ids (``L-<prefix><tag>-<n>``); every id handed out is kept in
    ``people``, so a test can look for it where it must not be (logs, metrics)."""

    def __init__(
        self,
        system: System,
        clients: dict[str, httpx.AsyncClient],
        *,
        prefix: str,
        person_name: str,
        people: set[str] | None = None,
    ) -> None:
        self.system = system
        self.custody, self.referral, self.ppo, self.breach = (clients[n] for n in SERVICE_NAMES)
        self.officer = system.token(Role.custody_officer, "metropolitan")
        self.inspector = system.token(Role.inspector, "metropolitan")
        self.manager = system.token(Role.referral_manager, "lambeth")
        self.coordinator = system.token(Role.ppo_coordinator, "lambeth")
        self.liaison = system.token(Role.probation_liaison, "lambeth")
        self.court = system.token(Role.court_liaison, "lambeth")
        self.police = system.token(Role.police_enforcement, "lambeth")
        self.tag = uuid.uuid4().hex[:8].upper()
        self.prefix = prefix
        self.person_name = person_name
        self.people = people if people is not None else set()

    def person(self, n: object) -> str:
        pid = f"L-{self.prefix}{self.tag}-{n}"
        self.people.add(pid)
        return pid

    async def post(
        self,
        client: httpx.AsyncClient,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        status: int = 200,
    ) -> Any:
        answer = await client.post(path, json=body, headers=headers)
        assert answer.status_code == status, (path, answer.text)
        return answer.json() if answer.content else None

    async def worker(self, name: str, **extra: Any) -> tuple[str, dict[str, str]]:
        worker_id = f"W-{self.tag}-{name}"
        body = {
            "worker_id": worker_id,
            "name": name,
            "area": "lambeth",
            "suites": [SUITE],
            "daily_capacity": 20,
            **extra,
        }
        await self.post(self.referral, "/v1/workers", body, self.manager, 201)
        return worker_id, self.system.token(Role.referral_worker, "lambeth", worker_id)

    async def book_in(
        self, pid: str, code: str = "TA1968-s1", arrested_ago: timedelta = timedelta(minutes=30), **extra: Any
    ) -> str:
        now = datetime.now(UTC)
        body = {
            "person_id": pid,
            "name": self.person_name,
            "date_of_birth": "1975-05-05",
            "home_area": "lambeth",
            "suite": SUITE,
            "arrested_at": (now - arrested_ago).isoformat(),
            "offences": [{"code": code, "offence_date": now.date().isoformat(), **extra}],
        }
        booked = await self.post(self.custody, "/v1/detentions", body, self.officer, 201)
        return str(booked["detention_id"])

    async def act(
        self, did: str, action: str, body: dict[str, Any] | None = None, as_: dict[str, str] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.post(
            self.custody, f"/v1/detentions/{did}/{action}", body or {}, as_ or self.officer
        )
        return result

    async def test_positive(self, did: str) -> None:
        await self.act(did, "warning")
        await self.act(did, "sample")
        await self.act(did, "results", {"drug": "cocaine", "result": "positive"})

    async def positive(self, pid: str, *, charge: bool = False, code: str = "TA1968-s1") -> str:
        did = await self.book_in(pid, code)
        if charge:
            await self.act(did, "charge", {"codes": [code]})
        await self.test_positive(did)
        return did

    async def assessment(self, did: str, ready: Any = lambda a: True) -> dict[str, Any]:
        async def find() -> Any:
            rows = (
                await self.referral.get("/v1/assessments", params={"area": "lambeth"}, headers=self.manager)
            ).json()
            return next((a for a in rows if a["detention_id"] == did and ready(a)), None)

        found: dict[str, Any] = await until(find, f"the assessment for {did}")
        return found


@asynccontextmanager
async def service_clients(system: System) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One HTTP client per service, on its real port."""
    async with (
        httpx.AsyncClient(base_url=system.url("custody"), timeout=30) as c,
        httpx.AsyncClient(base_url=system.url("referral"), timeout=30) as r,
        httpx.AsyncClient(base_url=system.url("ppo-register"), timeout=30) as p,
        httpx.AsyncClient(base_url=system.url("breach"), timeout=30) as b,
    ):
        yield dict(zip(SERVICE_NAMES, (c, r, p, b), strict=True))

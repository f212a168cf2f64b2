"""Personal data kept where it belongs, across the four services on real Kafka and PostgreSQL: an erasure
request by person id reaches every service through ``privacy.requests.v1`` and leaves no row in any of their
databases naming the person; the retention job pseudonymises records past their period and the measures count
exactly what they counted before."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.kafka.admin import ensure_topics
from dipflow.privacy import Pseudonyms, RetentionLoop, RetentionPolicy
from dipflow.privacy.retention import RetentionCutoffs
from dipflow.topics import all_topics
from dipflow_breach.main import create_app as breach_app
from dipflow_breach.settings import BreachSettings
from dipflow_custody.main import create_app as custody_app
from dipflow_custody.settings import CustodySettings
from dipflow_ppo_register.main import create_app as ppo_app
from dipflow_ppo_register.settings import PpoRegisterSettings
from dipflow_referral.main import create_app as referral_app
from dipflow_referral.settings import ReferralSettings
from tests.infra import Infra
from tests.integration.referral.stack import AUTH, MANAGER, SUITE, bearer, worker_token
from tests.support.sample_app import serve
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(240)
ADMIN = bearer(Role.admin, "*")
ANALYST = bearer(Role.analyst, "*")
NAME, BIRTH = "Marigold Quenby-Fairweather", "1971-09-17"


@dataclass
class Four:
    custody: httpx.AsyncClient
    referral: httpx.AsyncClient
    ppo: httpx.AsyncClient
    breach: httpx.AsyncClient
    dsns: dict[str, str]
    unique: str

    def clients(self) -> dict[str, httpx.AsyncClient]:
        return {"custody": self.custody, "referral": self.referral, "ppo": self.ppo, "breach": self.breach}

    def pnc(self, n: int) -> str:
        """A PNC-shaped id unique to this test (YY/NNNNNNNL)."""
        digits = random.Random(f"{self.unique}-{n}").randrange(10**6, 10**7)
        return f"{n % 100:02d}/{digits}{'ABCDEFGHJK'[n % 10]}"


@asynccontextmanager
async def four_services(infra: Infra, unique: str, **referral_settings: Any) -> AsyncIterator[Four]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    names = {
        "custody": f"custody-{unique}",
        "referral": f"referral-{unique}",
        "ppo": f"ppo-{unique}",
        "breach": f"breach-{unique}",
    }
    dsns = {k: server_dsn(infra.postgres_dsn, f"{k}_{unique}") for k in names}

    def common(k: str) -> dict[str, Any]:
        return {"service_name": names[k], "database_url": dsns[k], "kafka_bootstrap": infra.kafka_bootstrap}

    custody_settings = CustodySettings(**common("custody"), erasure_confirmed_by=list(names.values()))
    async with (
        serve(custody_app(custody_settings, AUTH)) as custody,
        serve(referral_app(ReferralSettings(**common("referral"), **referral_settings), AUTH)) as referral,
        serve(ppo_app(PpoRegisterSettings(**common("ppo")), AUTH)) as ppo,
        serve(breach_app(BreachSettings(**common("breach")), AUTH)) as breach,
    ):
        yield Four(custody, referral, ppo, breach, dsns, unique)


async def ok(answer: Any, status: int = 200) -> Any:
    response = await answer
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def book(
    four: Four, pid: str, at: datetime, result: str | None, release_after: timedelta | None, name: str = NAME
) -> str:
    """Book in at Brixton, warn, sample, record ``result`` and release, at times from ``at``."""
    c = four.custody
    body = {
        "person_id": pid,
        "name": name,
        "date_of_birth": BIRTH if name == NAME else "1980-02-02",
        "home_area": "lambeth",
        "suite": SUITE,
        "arrested_at": at.isoformat(),
        "booked_in_at": (at + timedelta(minutes=5)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": at.date().isoformat()}],
    }
    did: str = (await ok(c.post("/v1/detentions", json=body, headers=bearer()), 201))["detention_id"]
    steps: list[tuple[str, dict[str, Any]]] = [("warning", {}), ("sample", {})]
    if result:
        steps.append(
            ("results", {"drug": "cocaine", "result": result, "medication_declared": "methadone 60ml"})
        )
    if release_after is not None:
        # a positive's required assessment lapses on the release, as the officer confirms (A1)
        release = {"release": "no_further_action", "at": (at + release_after).isoformat()}
        steps.append(("release", {**release, "lapse_confirmed": result == "positive"}))
    for n, (action, payload) in enumerate(steps):
        payload.setdefault("at", (at + timedelta(minutes=10 + n)).isoformat())
        await ok(c.post(f"/v1/detentions/{did}/{action}", json=payload, headers=bearer()))
    return did


async def rows_naming(dsn: str, *needles: str) -> dict[str, int]:
    """Every table of a service's database whose rows mention any of ``needles``, with the count."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'"
        )
        found: dict[str, int] = {}
        for t in tables:
            name = t["table_name"]
            clause = " OR ".join(f"position(${i + 1} IN t::text) > 0" for i in range(len(needles)))
            n = await conn.fetchval(f'SELECT count(*) FROM "{name}" AS t WHERE {clause}', *needles)
            if n:
                found[name] = n
        return found
    finally:
        await conn.close()


async def settled_measures(four: Four, year: int, tests: int, positives: int) -> dict[str, Any]:
    """The measures once referral has seen all ``tests`` samples and all ``positives`` results (it learns of each
    over Kafka, a sample and its result as two events: counting the tests alone let a result still on its way
    change the measures afterwards)."""

    async def seen() -> Any:
        found = await measures(four, year)
        counted = (sum(r["tests"] for r in found["k4"]), sum(r["positives"] for r in found["k4"]))
        return found if counted == (tests, positives) else None

    return await until(seen, f"referral to count {tests} tests and {positives} positives")  # type: ignore[no-any-return]


async def measures(four: Four, year: int) -> dict[str, Any]:
    """K1, K2, K4 (also by drug and by PPO status), K5 and the testing return for ``year``: each test uses a year of its own (the topics carry other tests' events,
    which every new consumer group reads)."""
    window = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
    return {
        "k5": await ok(four.custody.get("/v1/measures/k5", params=window, headers=ANALYST)),
        "k4": await ok(four.referral.get("/v1/measures/k4", params=window, headers=ANALYST)),
        "k1": await ok(four.ppo.get("/v1/measures/k1", params=window, headers=ANALYST)),
        "k2": await ok(four.ppo.get("/v1/measures/k2", params=window, headers=ANALYST)),
        "testing": await ok(four.custody.get("/v1/measures/testing", params=window, headers=ANALYST)),
        "k4_by_drug": await ok(
            four.referral.get("/v1/measures/k4", params={**window, "by": "drug"}, headers=ANALYST)
        ),
        "k4_by_ppo": await ok(
            four.referral.get("/v1/measures/k4", params={**window, "by": "ppo"}, headers=ANALYST)
        ),
    }


async def test_an_erasure_request_reaches_all_four_services_and_leaves_no_row_naming_the_person(
    infra: Infra, unique: str
) -> None:
    async with four_services(infra, unique) as four:
        pid, other = four.pnc(1), four.pnc(2)
        worker = f"W-{unique}"
        await ok(
            four.referral.post(
                "/v1/workers",
                headers=MANAGER,
                json={
                    "worker_id": worker,
                    "name": "Worker",
                    "area": "lambeth",
                    "suites": [SUITE],
                    "daily_capacity": 8,
                },
            ),
            201,
        )
        await ok(
            four.ppo.post(
                "/v1/register",
                headers=ADMIN,
                json={
                    "person_id": pid,
                    "borough": "lambeth",
                    "strand": "catch_and_convict",
                    "start_date": "2011-01-05",
                    "reason": "panel decision",
                },
            ),
            201,
        )
        await ok(
            four.breach.post(
                "/v1/orders",
                headers=bearer(Role.probation_liaison, "lambeth"),
                json={
                    "person_id": pid,
                    "order_id": f"DRR-{unique}",
                    "area": "lambeth",
                    "court": "Camberwell Green",
                    "start_date": "2011-02-02",
                    "treatment_months": 12,
                    "responsible_officer": "PO Smith",
                },
            ),
            201,
        )
        arrested = datetime(2011, 3, 3, 10, 0, tzinfo=UTC)
        did = await book(four, pid, arrested, "positive", release_after=None)
        await book(four, other, arrested, "positive", release_after=None, name="Somebody Else")  # untouched

        async def assessment() -> Any:
            rows = await ok(four.referral.get("/v1/assessments", params={"area": "lambeth"}, headers=MANAGER))
            return next((a for a in rows if a["detention_id"] == did), None)

        found = await until(assessment, "the assessment of the person to be erased")
        await ok(
            four.referral.post(
                f"/v1/assessments/{found['assessment_id']}/clinical-notes",
                json={"note": "disclosed crack use"},
                headers=worker_token(worker),
            ),
            201,
        )
        await until(lambda: _registered(four, pid), "the PPO register copy in custody")  # a PNC in the path
        history = await ok(four.ppo.get(f"/v1/register/{pid}/history", headers=ADMIN))
        assert [p["start_date"] for p in history] == ["2011-01-05"]
        before = await settled_measures(four, 2011, tests=2, positives=2)

        request = await ok(
            four.custody.post(
                "/v1/privacy/erasure-requests",
                headers=ADMIN,
                json={"person_id": pid, "reason": "data subject request"},
            ),
            202,
        )
        request_id = request["request_id"]

        async def complete() -> Any:
            status = await ok(four.custody.get(f"/v1/privacy/erasure-requests/{request_id}", headers=ADMIN))
            return status if status["complete"] else None

        status = await until(complete, "all four services to confirm the erasure", timeout_s=60)
        assert set(status["confirmed_by"]) == {
            f"{s}-{unique}" for s in ("custody", "referral", "ppo", "breach")
        }
        assert status["confirmed_by"][f"referral-{unique}"]["rows"]["clinical_notes"] == 1
        assert status["confirmed_by"][f"ppo-{unique}"]["rows"]["register_periods"] == 1
        for name, client in four.clients().items():
            mine = await ok(client.get(f"/v1/privacy/erasures/{request_id}", headers=ADMIN))
            assert sum(mine["rows"].values()) >= 1, (name, mine)

        left: dict[str, dict[str, int]] = {}

        async def nothing_left() -> bool:
            nonlocal left
            left = {
                k: found
                for k, dsn in four.dsns.items()
                if (found := await rows_naming(dsn, pid, NAME, BIRTH))
            }
            return not left

        # the outbox holds the confirmations until the relay has published them: wait for that too
        with contextlib.suppress(AssertionError):
            await until(nothing_left, "no row in any database to name the person", timeout_s=30)
        assert left == {}
        assert (await rows_naming(four.dsns["custody"], other))["detentions"] == 1  # the other person stays
        view = await ok(
            four.custody.get(f"/v1/detentions/{did}", params={"purpose": "bail"}, headers=bearer())
        )
        assert view["person_id"].startswith("Z-") and view["results"] == {"cocaine": "positive"}
        assert await measures(four, 2011) == before  # the counts the measures need are kept
        audit = await ok(four.custody.get("/v1/audit", params={"person_id": pid}, headers=ADMIN))
        assert audit["items"] == []
        assert await ok(four.ppo.get(f"/v1/register/{pid}/history", headers=ADMIN)) == []
        await until(
            lambda: _not_registered(four, pid), "the tombstone to take the person out of custody's copy"
        )


async def _not_registered(four: Four, pid: str) -> Any:
    return not await _registered(four, pid)


async def _registered(four: Four, pid: str) -> Any:
    answer = await four.custody.get(f"/v1/ppo-status/{pid}", headers=bearer())
    return answer.status_code == 200 and answer.json().get("is_ppo")


async def test_retention_pseudonymises_old_negatives_and_closed_cases_and_keeps_every_count(
    infra: Infra, unique: str
) -> None:
    """Custody keeps the default periods (90 days for a detention with no positive result, 730 for a closed one)
    and sees them in the detentions' own times; referral counts from when an assessment last changed (now), so
    it runs here with both periods at zero."""
    async with four_services(infra, unique, retention_closed_days=0, retention_negative_days=0) as four:
        await ok(
            four.referral.post(
                "/v1/workers",
                headers=MANAGER,
                json={
                    "worker_id": f"W-{unique}",
                    "name": "Worker",
                    "area": "lambeth",
                    "suites": [SUITE],
                    "daily_capacity": 8,
                },
            ),
            201,
        )
        now = datetime.now(UTC).replace(microsecond=0)
        old_negative, old_positive, recent_negative, open_old = (
            four.pnc(11),
            four.pnc(12),
            four.pnc(13),
            four.pnc(14),
        )
        in_2012 = datetime(2012, 6, 1, 9, 0, tzinfo=UTC)
        await book(four, old_negative, in_2012, "negative", timedelta(hours=3))
        positive_did = await book(four, old_positive, in_2012, "positive", None)
        await until(lambda: _assessment_of(four, positive_did), "the assessment of the old positive")
        await ok(
            four.custody.post(
                f"/v1/detentions/{positive_did}/release",
                headers=bearer(),
                json={
                    "release": "no_further_action",
                    "at": (in_2012 + timedelta(hours=4)).isoformat(),
                    "lapse_confirmed": True,
                },
            )
        )
        await until(
            lambda: _assessment_of(four, positive_did, "lapsed"), "the assessment to lapse on release (A1)"
        )
        await book(four, recent_negative, now - timedelta(days=30), "negative", timedelta(hours=2))
        await book(four, open_old, in_2012, "negative", None)  # never released: an open detention is kept
        before = await settled_measures(four, 2012, tests=3, positives=1)

        runs = {
            name: await ok(c.post("/v1/privacy/retention/run", headers=ADMIN))
            for name, c in four.clients().items()
        }
        # at least ours: each service also holds what earlier tests left on the shared topics
        assert runs["custody"]["rows"]["detentions"] >= 2 and runs["custody"]["ran"]
        assert runs["referral"]["rows"]["assessments"] >= 1 and runs["referral"]["rows"]["detentions"] >= 3
        custody_db = four.dsns["custody"]
        naming = {
            pid: await rows_naming(custody_db, pid)
            for pid in (old_negative, old_positive, recent_negative, open_old)
        }
        # the audit trail of today's bookings keeps the person for its own period (730 days from each entry)
        assert all(set(found) - {"detentions"} == {"audit_log"} for found in naming.values())
        assert [
            naming[p].get("detentions", 0) for p in (old_negative, old_positive, recent_negative, open_old)
        ] == [0, 0, 1, 1]
        assert await rows_naming(four.dsns["referral"], old_positive) == {}
        assert await rows_naming(four.dsns["referral"], open_old) == {"detentions": 1}
        assert await measures(four, 2012) == before
        again = await ok(four.custody.post("/v1/privacy/retention/run", headers=ADMIN))
        assert again["rows"] == {"detentions": 0, "audit_log": 0}  # nothing is pseudonymised twice


async def _assessment_of(four: Four, did: str, status: str | None = None) -> Any:
    rows = await ok(four.referral.get("/v1/assessments", params={"area": "lambeth"}, headers=MANAGER))
    return next((a for a in rows if a["detention_id"] == did and status in (None, a["status"])), None)


async def test_the_retention_schedule_waits_one_interval_from_the_first_start_and_survives_restarts(
    service_pool: asyncpg.Pool,
) -> None:
    calls: list[RetentionCutoffs] = []

    async def retainer(
        conn: asyncpg.Connection, pseudonyms: Pseudonyms, cutoffs: RetentionCutoffs
    ) -> dict[str, int]:
        calls.append(cutoffs)
        return {"things": 0}

    policy = RetentionPolicy(negative_days=90, closed_days=730)
    first = RetentionLoop(service_pool, "svc", retainer, policy, interval_s=2.0, check_every_s=0.05)
    task = asyncio.create_task(first.run())
    try:
        await asyncio.sleep(0.5)
        assert first.runs == 0  # a fresh service waits a whole interval
        await until(lambda: asyncio.sleep(0, first.runs), "the first run", timeout_s=10)
    finally:
        task.cancel()
    # a restart just after a run waits for the next interval instead of running at once
    again = RetentionLoop(service_pool, "svc", retainer, policy, interval_s=3600, check_every_s=0.05)
    assert 3500 < await again.due_in_s() <= 3600
    recorded = await service_pool.fetch("SELECT policy, rows FROM retention_runs")
    assert len(recorded) == len(calls) >= 1 and recorded[0]["rows"] == {"things": 0, "audit_log": 0}
    assert recorded[0]["policy"]["closed_days"] == 730
    assert calls[0].negative_before - calls[0].closed_before == timedelta(days=640)

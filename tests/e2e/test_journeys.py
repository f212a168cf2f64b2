"""Journeys across all four services running as real processes (as `make run` starts them) against the real
broker and database, driven as a custody system, a worker, a probation liaison and a court liaison would:
through the public APIs and topics only."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import Response

from dipflow.auth import Role
from dipflow.devstack.web import WEB
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from tests.e2e.actors import SUITE, Actors, service_clients
from tests.e2e.system import ROOT, System, start_system, until
from tests.integration.referral.stack import uvicorn_app

pytestmark = pytest.mark.timeout(240)
PEOPLE: set[str] = set()  # every person id the journeys used: none may appear in a log line or metric


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    yield from start_system(Path(tmp_path_factory.mktemp("system")) / "run")


@pytest.fixture
async def actors(system: System) -> AsyncIterator[Actors]:
    async with service_clients(system) as clients:
        yield Actors(system, clients, prefix="J", person_name="Journey Person", people=PEOPLE)


async def test_positive_test_is_assigned_attended_and_the_follow_up_attended(actors: Actors) -> None:
    worker_id, me = await actors.worker("one")
    pid = actors.person(1)
    did = await actors.positive(pid)

    async def in_inbox() -> Any:
        items = (await actors.referral.get("/v1/inbox", headers=me)).json()
        return [i for i in items if i["person_id"] == pid]

    item = (await until(in_inbox, "the assignment in the worker's inbox"))[0]
    case = f"/v1/assessments/{item['assessment_id']}"
    await actors.post(actors.referral, f"{case}/impose", {"place": "Brixton DIP office"}, actors.officer)
    await actors.post(actors.referral, f"{case}/attendance", {"outcome": "attended"}, me)
    follow_at = (datetime.now(UTC) + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    decided = await actors.post(
        actors.referral,
        f"{case}/follow-up",
        {"needed": True, "appointment_at": follow_at.isoformat(), "place": "DIP office"},
        me,
    )
    assert decided["follow_up"]["worker_id"] == worker_id  # A9 continuity
    done = await actors.post(
        actors.referral, f"{case}/attendance", {"kind": "follow_up", "outcome": "attended"}, me
    )
    assert done["status"] == "completed"
    forms = [n["form"] for n in (await actors.referral.get(f"{case}/notices", headers=me)).json()]
    assert forms == ["RA1", "RA3", "RA4", "RA3"]
    assert (await actors.assessment(did))["status"] == "completed"


async def test_failure_to_attend_becomes_an_arrest_request_that_a_re_arrest_closes(actors: Actors) -> None:
    await actors.worker("two")
    pid = actors.person(2)
    did = await actors.positive(pid)
    a = await actors.assessment(did, lambda x: x["initial"]["worker_id"] is not None)
    await actors.post(actors.referral, f"/v1/assessments/{a['assessment_id']}/impose", {}, actors.officer)
    await actors.post(
        actors.referral,
        f"/v1/assessments/{a['assessment_id']}/attendance",
        {"outcome": "failed_to_attend"},
        actors.manager,
    )

    async def request() -> Any:
        rows = (
            await actors.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=actors.police)
        ).json()
        return next((r for r in rows if r["person_id"] == pid), None)

    opened = await until(request, "the arrest request")
    assert opened["source"] == "assessment_failure" and "DA05 s.12(3)" in opened["basis"]
    await actors.book_in(pid, "CDA1971-s1", arrested_ago=timedelta(0))  # re-arrested after the request

    async def closed() -> Any:
        row = await request()
        return row if row and row["arrested_at"] else None

    done = await until(closed, "the arrest request to close")
    hours = (
        datetime.fromisoformat(done["arrested_at"]) - datetime.fromisoformat(done["requested_at"])
    ).total_seconds() / 3600
    k3 = (await actors.breach.get("/v1/measures/k3", headers=actors.system.token(Role.analyst, "*"))).json()
    group = next(g for g in k3 if (g["source"], g["borough"]) == ("assessment_failure", "lambeth"))
    assert group["count"] >= 1 and group["max_hours"] >= hours >= 0


async def test_ppo_non_trigger_arrest_goes_to_an_inspector_then_tests_positive_and_joins_the_list(
    actors: Actors,
) -> None:
    pid = actors.person(3)
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    await actors.post(
        actors.ppo,
        "/v1/register",
        {
            "person_id": pid,
            "borough": "lambeth",
            "strand": "catch_and_convict",
            "start_date": start,
            "reason": "panel",
        },
        actors.coordinator,
        201,
    )

    async def custody_knows() -> bool:
        return bool(
            # 403 until the register's event reaches custody: the person is not yet on its copy of the register
            (answer := await actors.custody.get(f"/v1/ppo-status/{pid}", headers=actors.officer)).status_code
            == 200
            and answer.json()["is_ppo"]
        )

    await until(custody_knows, "custody's copy of the register to show the PPO")
    did = await actors.book_in(pid, "CDA1971-s1")  # criminal damage: not a trigger offence (S07)
    waiting = (
        await actors.custody.get("/v1/inspector-requests", params={"suite": SUITE}, headers=actors.inspector)
    ).json()
    assert did in [w["detention_id"] for w in waiting]
    decided = await actors.act(
        did,
        "inspector-decision",
        {
            "decision": "authorised",
            "rank": "inspector",
            "grounds": "Class A misuse suspected to have caused the damage",
        },
        actors.inspector,
    )
    assert decided["decision"]["outcome"] == "required"
    await actors.act(did, "warning")
    await actors.act(did, "sample")
    await actors.act(did, "results", {"drug": "cocaine", "result": "positive"})

    async def listed() -> Any:
        rows = (
            await actors.ppo.get(
                "/v1/tested-positive", params={"borough": "lambeth"}, headers=actors.coordinator
            )
        ).json()
        return next((r for r in rows if r["person_id"] == pid), None)

    line = await until(listed, "the tested-positive list")
    assert line["last_drugs"] == ["cocaine"] and line["positives_in_12_months"] == 1


async def test_refused_assessment_restricts_bail_and_a_broken_condition_becomes_an_arrest_request(
    actors: Actors,
) -> None:
    pid = actors.person(4)
    did = await actors.positive(pid, charge=True)

    async def bail_case() -> Any:
        rows = (
            await actors.referral.get("/v1/bail-cases", params={"area": "lambeth"}, headers=actors.court)
        ).json()
        return next((c for c in rows if c["detention_id"] == did), None)

    await until(bail_case, "the restriction-on-bail case")
    notice = await actors.post(
        actors.referral,
        f"/v1/bail-cases/{did}/agreement",
        {"agreed": False, "substantial_grounds": True},
        actors.officer,
    )
    assert notice["restriction"] == "applies" and notice["rule_ids"] == ["B1", "B2"]
    await actors.post(
        actors.referral,
        f"/v1/bail-cases/{did}/outcome",
        {
            "outcome": "bail_with_assessment_condition",
            "court": "Camberwell Green",
            "decided_on": datetime.now(UTC).date().isoformat(),
        },
        actors.court,
    )
    await actors.post(
        actors.referral,
        f"/v1/bail-cases/{did}/breach",
        {"what": "did not attend the assessment"},
        actors.court,
    )

    async def request() -> Any:
        rows = (
            await actors.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=actors.police)
        ).json()
        return next((r for r in rows if r["person_id"] == pid and r["source"] == "bail_condition"), None)

    opened = await until(request, "the arrest request for the broken condition")
    assert "BA76 s.7(3)" in opened["basis"] and opened["rule_ids"][0] == "B4"


async def test_drr_warning_then_breach_of_a_ppo_is_fast_tracked_to_the_liaison_webhook(
    actors: Actors,
) -> None:
    received: list[dict[str, Any]] = []
    receiver = FastAPI()

    @receiver.post("/liaison")
    async def liaison(request: Request) -> Response:
        received.append(orjson.loads(await request.body()))
        return Response(status_code=204)

    pid, order_id = actors.person(5), f"DRR-{actors.tag}"
    async with uvicorn_app(receiver) as hook:
        await actors.breach.put(
            "/v1/liaison/lambeth/webhook",
            json={"url": f"{hook}/liaison", "secret": "s" * 20},
            headers=actors.liaison,
        )
        await actors.post(
            actors.ppo,
            "/v1/register",
            {
                "person_id": pid,
                "borough": "lambeth",
                "strand": "rehabilitate_and_resettle",
                "start_date": "2008-01-01",
                "reason": "panel",
            },
            actors.coordinator,
            201,
        )
        await actors.post(
            actors.breach,
            "/v1/orders",
            {
                "person_id": pid,
                "order_id": order_id,
                "area": "lambeth",
                "court": "Camberwell Green",
                "start_date": "2008-01-14",
                "treatment_months": 24,
                "responsible_officer": "PO Smith",
            },
            actors.liaison,
            201,
        )

        async def breach_knows() -> bool:
            return bool(
                (await actors.breach.get(f"/v1/orders/{order_id}", headers=actors.liaison)).json()["ppo"]
            )

        await until(breach_knows, "the breach service's copy of the register")
        first = await actors.post(
            actors.breach,
            f"/v1/orders/{order_id}/compliance",
            {"kind": "unacceptable_absence", "on": "2008-03-03"},
            actors.liaison,
        )
        second = await actors.post(
            actors.breach,
            f"/v1/orders/{order_id}/compliance",
            {"kind": "unacceptable_absence", "on": "2008-09-01"},
            actors.liaison,
        )
        assert (first["decision"], second["decision"]) == ("warning", "breach")

        async def fast_tracked() -> Any:
            return [m for m in received if m["kind"] == "breach" and m["order_id"] == order_id]

        notice = (await until(fast_tracked, "the fast-track notification"))[0]
        assert notice["fast_track"] is True and "D5" in notice["rule_ids"]
        rows = (
            await actors.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=actors.police)
        ).json()
        premium = next(r for r in rows if r["person_id"] == pid)
        assert premium["premium"] is True and premium["source"] == "drr_breach"


async def test_refusal_to_give_a_sample_is_an_offence_and_gives_no_required_assessment(
    actors: Actors,
) -> None:
    pid = actors.person(6)
    did = await actors.book_in(pid)
    await actors.act(did, "warning")
    refused = await actors.act(did, "refusal", {"good_cause": False})
    assert refused["refused_at"] is not None
    later = await actors.positive(pid)  # the same person, later: same partition, so the refusal was handled
    await actors.assessment(later)
    rows = (
        await actors.referral.get("/v1/assessments", params={"area": "lambeth"}, headers=actors.manager)
    ).json()
    assert did not in [a["detention_id"] for a in rows]
    consumer = AIOKafkaConsumer(
        "custody.events.v1",
        **kafka_consumer_options(actors.system.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:

        async def refusal() -> Any:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.key != pid.encode():
                        continue
                    event = orjson.loads(r.value)
                    if (
                        event["type"] == "custody.refusal_recorded"
                        and event["payload"]["detention_id"] == did
                    ):
                        return event
            return None

        event = await until(refusal, "the refusal event")
    finally:
        await consumer.stop()
    assert event["payload"]["offence"] is True  # T11


def test_make_demo_replays_a_day_and_narrates_it(system: System, capsys: pytest.CaptureFixture[str]) -> None:
    from dipflow.demo import Demo, Urls

    secret = (system.state / "auth-dev-secret").read_text().strip()
    urls = Urls(
        system.url("custody"), system.url("referral"), system.url("ppo-register"), system.url("breach")
    )
    demo = Demo(urls, secret, seed=11)
    demo.run(16)
    out = capsys.readouterr().out
    assert "A day at Brixton custody suite" in out and "The day in numbers" in out
    assert demo.counts["arrests"] == 16
    positives = demo.counts.get("positives", 0)
    assert f"required assessments proposed and assigned: {positives} of {positives} positives" in out


async def test_t1_a_borough_goes_live_by_data_alone_and_its_positives_reach_its_own_workers(
    actors: Actors,
) -> None:
    """Roll-out without code (the 2007-10 plan's extension of DIP to every borough): an admin adds a force, a
    borough, a suite and its notifications from a date through the APIs; the borough's manager adds a worker.
    From that date a trigger arrest at the suite is tested, and a positive opens a required assessment for the
    new borough's worker. Nothing in the repository changes."""
    repository_before = _repository_state()
    admin = actors.system.token(Role.admin, "*")
    force, borough, suite = f"dipshire{actors.tag.lower()}", f"north{actors.tag.lower()}", f"DIP-{actors.tag}"
    go_live = datetime(2026, 6, 1, tzinfo=UTC)
    for area in (
        {"code": force, "name": "Dipshire Police", "kind": "force"},
        {"code": borough, "name": "North Dipshire", "kind": "borough", "force": force},
    ):
        await actors.post(actors.custody, "/v1/areas", area, admin, 201)
    place = {
        "code": suite,
        "name": "North custody",
        "force": force,
        "borough": borough,
        "address": "1 High St",
    }
    await actors.post(actors.custody, "/v1/suites", place, admin, 201)
    for where, kind in ((suite, "testing_on_arrest"), (borough, "initial_assessment")):
        notice = {"place": where, "kind": kind, "valid_from": go_live.date().isoformat()}
        await actors.post(actors.custody, "/v1/notifications", notice, admin, 201)

    manager = actors.system.token(Role.referral_manager, borough)

    async def worker_added() -> bool:  # 403 until referral's copy of the reference data knows the borough
        body = {"worker_id": f"W-{actors.tag}-north", "name": "North", "area": borough, "suites": [suite]}
        answer = await actors.referral.post(
            "/v1/workers", json={**body, "daily_capacity": 20}, headers=manager
        )
        return answer.status_code == 201

    await until(worker_added, "referral to accept a worker for the new borough")
    officer = actors.system.token(Role.custody_officer, force)

    async def book(n: int, at: datetime) -> dict[str, Any]:
        body = {
            "person_id": actors.person(f"NORTH-{n}"),
            "name": actors.person_name,
            "date_of_birth": "1980-02-02",
            "home_area": borough,
            "suite": suite,
            "arrested_at": at.isoformat(),
            "booked_in_at": (at + timedelta(minutes=10)).isoformat(),
            "offences": [{"code": "TA1968-s1", "offence_date": at.date().isoformat()}],
        }
        booked: dict[str, Any] = await actors.post(actors.custody, "/v1/detentions", body, officer, 201)
        return booked

    day_before = await book(1, go_live - timedelta(days=1) + timedelta(hours=10))
    assert day_before["decision"]["outcome"] == "not_allowed"
    on_the_day = await book(2, go_live + timedelta(hours=10))
    assert on_the_day["decision"]["outcome"] == "required"
    did = on_the_day["detention_id"]
    for minutes, action, body in (
        (20, "warning", {}),
        (30, "sample", {}),
        (40, "results", {"drug": "cocaine", "result": "positive"}),
    ):
        at = (go_live + timedelta(hours=10, minutes=minutes)).isoformat()
        await actors.act(did, action, {**body, "at": at}, officer)

    async def assigned() -> Any:
        rows = (
            await actors.referral.get("/v1/assessments", params={"area": borough}, headers=manager)
        ).json()
        return next((a for a in rows if a["detention_id"] == did and a.get("initial")), None)

    assessment = await until(assigned, "a required assessment for the new borough's positive")
    assert assessment["initial"]["worker_id"] == f"W-{actors.tag}-north"
    async with httpx.AsyncClient(base_url=WEB.url(actors.system.offset), timeout=30) as web:
        token = admin["Authorization"].removeprefix("Bearer ")
        signed_in = await web.post("/sign-in", data={"token": token, "next": "/dashboard"})
        assert signed_in.status_code == 303, signed_in.text
        dashboard = await web.get("/dashboard")
        assert dashboard.status_code == 200 and f'value="{borough}"' in dashboard.text
    assert _repository_state() == repository_before


async def test_t1_k1_a_ppo_arrest_for_an_offence_outside_the_catalogue_counts_in_k1(actors: Actors) -> None:
    """An offence the catalogue does not know is booked as given (201, non-trigger, flagged), goes to an
    inspector because the person is a PPO (T4), and counts among the PPO's non-trigger arrests in K1."""
    pid = actors.person("K1")
    entry = {
        "person_id": pid,
        "borough": "lambeth",
        "strand": "catch_and_convict",
        "start_date": "2025-01-06",
        "reason": "panel",
    }
    await actors.post(actors.ppo, "/v1/register", entry, actors.coordinator, 201)

    async def custody_knows() -> bool:
        answer = await actors.custody.get(f"/v1/ppo-status/{pid}", headers=actors.officer)
        return answer.status_code == 200 and bool(answer.json()["is_ppo"])

    await until(custody_knows, "custody's copy of the register to show the PPO")
    arrested = datetime(2025, 2, 11, 9, tzinfo=UTC)
    offence = {
        "statute": "Licensing Act 2003",
        "section": "s.141",
        "wording": "selling alcohol to a person who is drunk",
        "offence_date": arrested.date().isoformat(),
    }
    body = {
        "person_id": pid,
        "name": actors.person_name,
        "date_of_birth": "1975-05-05",
        "home_area": "lambeth",
        "suite": SUITE,
        "arrested_at": arrested.isoformat(),
        "offences": [offence],
    }
    booked = await actors.post(actors.custody, "/v1/detentions", body, actors.officer, 201)
    assert booked["offences"][0]["in_catalogue"] is False
    assert "T4" in booked["decision"]["rule_ids"]
    analyst = actors.system.token(Role.analyst, "*")

    async def counted() -> Any:
        rows = (
            await actors.ppo.get(
                "/v1/measures/k1",
                params={"from": "2025-02-01", "to": "2025-02-28", "borough": "lambeth"},
                headers=analyst,
            )
        ).json()
        return next((r for r in rows if r["period"] == "2025-02" and r["ppo_non_trigger_arrests"]), None)

    row = await until(counted, "K1 to count the arrest")
    assert (row["ppo_non_trigger_arrests"], row["inspector_decisions"]) == (1, 0)


def _repository_state() -> str:
    """``git status`` of the checkout the system runs from (reference data lives in the databases)."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


async def test_no_name_birth_date_or_pnc_number_in_any_log_line_or_metric_of_the_journeys(
    actors: Actors,
) -> None:
    """Runs last in this module: it adds a journey of a person with a PNC number that goes wrong in the ways
    that tend to leak (a refused body naming the person, a PNC in a URL, a bad Kafka command, a DLQ), then reads
    every service's log and metrics."""
    pnc = f"{int(actors.tag[:2], 16) % 100:02d}/{int(actors.tag, 16) % 10**7:07d}Q"
    name, born = "Persephone Gallowglass", "1969-12-07"
    PEOPLE.add(pnc)
    bad = {
        "person_id": pnc,
        "name": name,
        "date_of_birth": born,
        "home_area": "lambeth",
        "suite": "NO-SUCH",
        "arrested_at": "not a time",
        "offences": [],
    }
    refused = await actors.custody.post("/v1/detentions", json=bad, headers=actors.officer)
    assert refused.status_code == 422
    body = {
        **bad,
        "suite": SUITE,
        "arrested_at": datetime.now(UTC).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": datetime.now(UTC).date().isoformat()}],
    }
    booked = await actors.custody.post("/v1/detentions", json=body, headers=actors.officer)
    assert booked.status_code == 201, booked.text
    did = booked.json()["detention_id"]
    for action, payload in (
        ("warning", {}),
        ("sample", {}),
        ("results", {"drug": "cocaine", "result": "positive", "medication_declared": name}),
    ):
        await actors.act(did, action, payload)
    await actors.assessment(did)
    assert (await actors.custody.get(f"/v1/ppo-status/{pnc}", headers=actors.officer)).status_code == 200
    custody_log = actors.system.state / "logs" / "custody.log"
    dead_letters_logged = custody_log.read_text().count('"dead_lettered"')
    producer = AIOKafkaProducer(**kafka_options(actors.system.kafka_bootstrap))
    await producer.start()
    try:  # a custody system sends a command that is not JSON, with the person in it
        await producer.send_and_wait(
            "custody.commands.v1", f"{{{name} {born} {pnc}".encode(), key=pnc.encode()
        )
    finally:
        await producer.stop()

    async def logged() -> bool:
        return custody_log.read_text().count('"dead_lettered"') > dead_letters_logged

    await until(logged, "custody to dead-letter the command and log that it did")
    secrets = {name, born, "Journey Person", "1975-05-05", *PEOPLE}
    logs = sorted((actors.system.state / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {"custody", "referral", "ppo-register", "breach"}
    leaks = [
        (p.name, n, s)
        for p in logs
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        for s in secrets
        if s in line
    ]
    assert leaks == [], leaks[:5]
    assert sum(len(p.read_text().splitlines()) for p in logs) > 20  # the services did log
    for client in (actors.custody, actors.referral, actors.ppo, actors.breach):
        metrics = (await client.get("/metrics")).text
        assert "dipflow_http_requests_total" in metrics
        assert [s for s in secrets if s in metrics] == []

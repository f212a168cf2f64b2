"""Scenarios S24-S28 against real Kafka and PostgreSQL, through the breach, custody and ppo-register APIs and
the real topics; notifications to a webhook receiver that fails; arrest requests from referral events."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import Response

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.events import EventPayload, new_envelope
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import PROBATION_EVENTS, REFERRAL_EVENTS, all_topics
from dipflow_breach.contracts.inbound import ComplianceRecorded, OrderMade
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_breach.main import create_app as breach_app
from dipflow_breach.settings import BreachSettings
from dipflow_custody.main import create_app as custody_app
from dipflow_custody.settings import CustodySettings
from dipflow_ppo_register.main import create_app as ppo_app
from dipflow_ppo_register.settings import PpoRegisterSettings
from dipflow_referral.contracts.events import BailConditionBreached, FailureNotified, RequirementsEnded
from tests.infra import Infra
from tests.integration.referral.stack import AUTH, bearer, uvicorn_app
from tests.support.sample_app import serve
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(180)
LIAISON = bearer(Role.probation_liaison, "lambeth")


@dataclass
class Receiver:
    """A probation liaison webhook that fails its first ``failures`` attempts of each notification."""

    failures: int
    secret: str
    calls: list[tuple[dict[str, Any], dict[str, str], bool]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # ids of the attempts answered 2xx

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/liaison")
        async def liaison(request: Request) -> Response:
            body = await request.body()
            signed = request.headers["x-dipflow-timestamp"].encode() + b"." + body
            good = hmac.compare_digest(
                request.headers["x-dipflow-signature"],
                "sha256=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest(),
            )
            message = orjson.loads(body)
            earlier = sum(1 for m, _, _ in self.calls if m["notification_id"] == message["notification_id"])
            self.calls.append((message, dict(request.headers), good))
            if earlier < self.failures:
                return Response(status_code=500)
            self.kept.append(message["notification_id"])
            return Response(status_code=204)

        return app

    def accepted(self, kind: str) -> list[dict[str, Any]]:
        """Notifications of ``kind`` the receiver accepted (answered 2xx), dropping repeats by id."""
        seen: dict[str, dict[str, Any]] = {}
        for message, _, _ in self.calls:
            if message["kind"] == kind and message["notification_id"] in self.kept:
                seen.setdefault(message["notification_id"], message)
        return list(seen.values())


@dataclass
class Services:
    breach: httpx.AsyncClient
    custody: httpx.AsyncClient
    ppo: httpx.AsyncClient
    infra: Infra
    unique: str

    def person(self, n: int = 1) -> str:
        return f"L-{self.unique.upper()}-{n}"

    async def publish(
        self, topic: str, person: str, payload: EventPayload, producer: str, at: datetime | None = None
    ) -> None:
        kafka = AIOKafkaProducer(**kafka_options(self.infra.kafka_bootstrap), enable_idempotence=True)
        await kafka.start()
        try:
            envelope = new_envelope(
                payload, person_id=person, producer=producer, occurred_at=at or datetime.now(UTC)
            )
            await kafka.send_and_wait(topic, envelope.to_bytes(), key=person.encode())
        finally:
            await kafka.stop()


@asynccontextmanager
async def services(infra: Infra, unique: str, **breach_settings: Any) -> AsyncIterator[Services]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())

    def dsn(name: str) -> str:
        return server_dsn(infra.postgres_dsn, f"{name}_{unique}")

    b = BreachSettings(
        service_name=f"breach-{unique}",
        database_url=dsn("breach"),
        kafka_bootstrap=infra.kafka_bootstrap,
        **breach_settings,
    )
    c = CustodySettings(
        service_name=f"custody-{unique}", database_url=dsn("custody"), kafka_bootstrap=infra.kafka_bootstrap
    )
    p = PpoRegisterSettings(
        service_name=f"ppo-{unique}", database_url=dsn("ppo"), kafka_bootstrap=infra.kafka_bootstrap
    )
    async with (
        serve(breach_app(b, AUTH)) as breach,
        serve(custody_app(c, AUTH)) as custody,
        serve(ppo_app(p, AUTH)) as ppo,
    ):
        yield Services(breach, custody, ppo, infra, unique)


async def breach_events(infra: Infra, person: str, types: set[str], want: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        "breach.events.v1",
        **kafka_consumer_options(infra.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < want:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found += [
                        e
                        for r in records
                        if r.key == person.encode()
                        for e in [orjson.loads(r.value)]
                        if e["type"] in types
                    ]
    except TimeoutError:
        raise AssertionError(f"wanted {want} of {types}, got {[e['type'] for e in found]}") from None
    finally:
        await consumer.stop()
    return found


def order_body(pid: str, order_id: str, start: str = "2008-01-14") -> dict[str, Any]:
    return {
        "person_id": pid,
        "order_id": order_id,
        "area": "lambeth",
        "court": "Camberwell Green",
        "start_date": start,
        "treatment_months": 24,
        "responsible_officer": "PO Smith",
    }


async def test_s24_s26_s27_from_the_probation_topic_warning_and_what_is_not_a_failure(
    infra: Infra, unique: str
) -> None:
    async with services(infra, unique) as s:
        pid, order_id = s.person(), f"DRR-{unique}"
        order = OrderMade(
            order_id=order_id,
            area="lambeth",
            court="Camberwell Green",
            start_date=datetime(2008, 1, 14).date(),
            treatment_months=12,
            responsible_officer="PO Smith",
        )
        await s.publish(PROBATION_EVENTS.name, pid, order, "probation")
        # a record for an order nobody made: dead-lettered, and the consumer carries on
        await s.publish(
            PROBATION_EVENTS.name,
            pid,
            ComplianceRecorded(
                order_id="DRR-NOPE",
                record_id=f"r0-{unique}",
                kind=ComplianceKind.unacceptable_absence,
                on=datetime(2008, 3, 1).date(),
            ),
            "probation",
        )
        for n, (kind, day, reason) in enumerate(
            [
                (ComplianceKind.acceptable_absence, 1, "in hospital (medical certificate)"),  # S26
                (ComplianceKind.test_result, 2, None),  # S27: positive test, otherwise compliant
                (ComplianceKind.unacceptable_absence, 3, None),  # S24
            ]
        ):
            record = ComplianceRecorded(
                order_id=order_id,
                record_id=f"r{n + 1}-{unique}",
                kind=kind,
                on=datetime(2008, 3, day).date(),
                reason=reason,
                result="positive" if kind is ComplianceKind.test_result else None,
            )
            await s.publish(PROBATION_EVENTS.name, pid, record, "probation")

        async def decided() -> Any:
            answer = await s.breach.get(f"/v1/orders/{order_id}", headers=LIAISON)
            return (
                answer.json() if answer.status_code == 200 and len(answer.json()["compliance"]) == 3 else None
            )

        seen = await until(decided, "three compliance records")
        assert [(c["kind"], c["decision"]) for c in seen["compliance"]] == [
            ("acceptable_absence", "recorded"),
            ("test_result", "recorded"),
            ("unacceptable_absence", "warning"),
        ]
        assert [w["issued_on"] for w in seen["warnings"]] == ["2008-03-03"]
        warning = (await breach_events(infra, pid, {"breach.warning_issued"}, 1))[0]["payload"]
        assert warning["rule_ids"] == ["D1", "D2"]
        other = await s.breach.get(f"/v1/orders/{order_id}", headers=bearer(Role.probation_liaison, "camden"))
        assert other.status_code == 403


async def test_s25_a_breach_after_a_warning_is_due_in_ten_working_days_and_escalates_when_missed(
    infra: Infra, unique: str
) -> None:
    async with services(infra, unique) as s:
        pid, order_id = s.person(), f"DRR-{unique}"
        assert (
            await s.breach.post("/v1/orders", json=order_body(pid, order_id), headers=LIAISON)
        ).status_code == 201
        first = await s.breach.post(
            f"/v1/orders/{order_id}/compliance",
            json={"kind": "unacceptable_absence", "on": "2008-03-05"},
            headers=LIAISON,
        )
        assert first.json()["decision"] == "warning"
        second = await s.breach.post(
            f"/v1/orders/{order_id}/compliance",
            json={"kind": "unacceptable_absence", "on": "2009-02-01"},
            headers=LIAISON,
        )
        outcome = second.json()
        assert (outcome["decision"], outcome["rule_ids"]) == ("breach", ["D1", "D3", "D4"])
        assert (outcome["enforcement_due"], outcome["hearing_due"]) == ("2009-02-13", "2009-02-27")
        # both due dates are long past: the durable timers escalate each once
        events = await breach_events(infra, pid, {"breach.deadline_passed"}, 2)
        assert sorted(e["payload"]["deadline"] for e in events) == ["enforcement", "hearing"]
        cases = (await s.breach.get("/v1/breach-cases", params={"area": "lambeth"}, headers=LIAISON)).json()
        case = next(c for c in cases if c["order_id"] == order_id)
        assert sorted(case["escalations"]) == ["enforcement", "hearing"] and case["ppo"] is False
        requests = (
            await s.breach.get(
                "/v1/arrest-requests",
                params={"area": "lambeth"},
                headers=bearer(Role.police_enforcement, "lambeth"),
            )
        ).json()
        mine = [r for r in requests if r["person_id"] == pid]
        assert [(r["source"], r["premium"]) for r in mine] == [("drr_breach", False)]
        feed = (await s.breach.get("/v1/notifications", params={"area": "lambeth"}, headers=LIAISON)).json()[
            "items"
        ]
        assert {"warning", "breach", "arrest_requested", "enforcement_overdue", "hearing_overdue"} <= {
            n["kind"] for n in feed if n["body"]["person_id"] == pid
        }


async def test_s28_a_ppo_breach_is_fast_tracked_notified_once_by_webhook_and_time_to_arrest_is_measured(
    infra: Infra, unique: str
) -> None:
    receiver = Receiver(failures=2, secret="liaison-secret-" + unique)
    async with uvicorn_app(receiver.app()) as hook, services(infra, unique, webhook_retry_base_s=0.2) as s:
        assert (
            await s.breach.put(
                "/v1/liaison/lambeth/webhook",
                json={"url": f"{hook}/liaison", "secret": receiver.secret},
                headers=LIAISON,
            )
        ).status_code == 204
        pid, order_id = s.person(), f"DRR-{unique}"
        ppo_add = {
            "person_id": pid,
            "borough": "lambeth",
            "strand": "catch_and_convict",
            "start_date": "2008-01-07",
            "reason": "panel",
        }
        assert (
            await s.ppo.post("/v1/register", json=ppo_add, headers=bearer(Role.ppo_coordinator, "lambeth"))
        ).status_code == 201
        assert (
            await s.breach.post("/v1/orders", json=order_body(pid, order_id), headers=LIAISON)
        ).status_code == 201

        async def is_ppo() -> bool:
            return bool((await s.breach.get(f"/v1/orders/{order_id}", headers=LIAISON)).json()["ppo"])

        await until(is_ppo, "the breach service's copy of the register to show the PPO")
        breached = await s.breach.post(
            f"/v1/orders/{order_id}/compliance",
            json={"kind": "sample_refused", "on": "2008-06-02", "straight_to_breach": True},
            headers=LIAISON,
        )
        assert breached.json()["decision"] == "breach"
        request = (await breach_events(infra, pid, {"breach.arrest_requested"}, 1))[0]["payload"]
        assert request["premium"] is True and request["ppo"] is True and "D5" in request["rule_ids"]
        requested_at = datetime.now(UTC)
        deadline = datetime.fromisoformat(request["deadline_at"])
        assert timedelta(hours=23) < deadline - requested_at <= timedelta(hours=24)

        await until(lambda: asyncio.sleep(0, result=receiver.accepted("breach")), "the breach notification")
        notices = receiver.accepted("breach")
        assert len(notices) == 1 and notices[0]["fast_track"] is True and notices[0]["ppo"] is True
        attempts = [
            h["x-dipflow-attempt"]
            for m, h, _ in receiver.calls
            if m["notification_id"] == notices[0]["notification_id"]
        ]
        assert attempts == ["1", "2", "3"] and all(good for _, _, good in receiver.calls)

        booking = {
            "person_id": pid,
            "name": "Test Person",
            "date_of_birth": "1970-01-15",
            "home_area": "lambeth",
            "suite": "MET-BRIXTON",
            "arrested_at": datetime.now(UTC).isoformat(),
            "offences": [{"code": "CDA1971-s1", "offence_date": datetime.now(UTC).date().isoformat()}],
        }
        assert (await s.custody.post("/v1/detentions", json=booking, headers=bearer())).status_code == 201
        made = (await breach_events(infra, pid, {"breach.arrest_made"}, 1))[0]["payload"]
        assert (
            made["source"] == "drr_breach"
            and made["within_target"] is True
            and 0 <= made["hours_to_arrest"] < 1
        )
        k3 = (await s.breach.get("/v1/measures/k3", headers=bearer(Role.analyst, "*"))).json()
        group = next(
            g for g in k3 if (g["source"], g["borough"], g["ppo"]) == ("drr_breach", "lambeth", True)
        )
        assert group["count"] >= 1 and group["within_target"] >= 1 and group["buckets"]["<6h"] >= 1
        # by month against a baseline month (5.2.1), and the same numbers in the CSV
        today = datetime.now(UTC).date()
        month = today.strftime("%Y-%m")
        params = {"from": today.isoformat(), "to": today.isoformat(), "per": "month", "baseline": "2008-03"}
        by_month = (
            await s.breach.get("/v1/measures/k3", params=params, headers=bearer(Role.analyst, "*"))
        ).json()
        mine = next(
            g for g in by_month if (g["source"], g["borough"], g["ppo"]) == ("drr_breach", "lambeth", True)
        )
        assert mine["period"] == month and mine["baseline_period"] == "2008-03" and mine["count"] >= 1
        as_csv = await s.breach.get(
            "/v1/measures/k3", params={**params, "format": "csv"}, headers=bearer(Role.analyst, "*")
        )
        lines = list(csv.DictReader(io.StringIO(as_csv.text)))
        line = next(
            x for x in lines if (x["source"], x["borough"], x["ppo"]) == ("drr_breach", "lambeth", "True")
        )
        assert (line["period"], int(line["count"]), int(line["bucket <6h"])) == (
            month,
            mine["count"],
            mine["buckets"]["<6h"],
        )


async def test_a_receiver_that_never_answers_leaves_the_notification_dead_lettered_in_the_feed(
    infra: Infra, unique: str
) -> None:
    receiver = Receiver(failures=1000, secret="liaison-secret-" + unique)
    async with (
        uvicorn_app(receiver.app()) as hook,
        services(infra, unique, webhook_retry_base_s=0.1, webhook_max_attempts=3) as s,
    ):
        await s.breach.put(
            "/v1/liaison/lambeth/webhook",
            json={"url": f"{hook}/liaison", "secret": receiver.secret},
            headers=LIAISON,
        )
        pid, order_id = s.person(), f"DRR-{unique}"
        await s.breach.post("/v1/orders", json=order_body(pid, order_id), headers=LIAISON)
        await s.breach.post(
            f"/v1/orders/{order_id}/compliance",
            json={"kind": "unacceptable_absence", "on": "2008-03-03"},
            headers=LIAISON,
        )

        async def dead() -> Any:
            items = (
                await s.breach.get("/v1/notifications", params={"area": "lambeth"}, headers=LIAISON)
            ).json()["items"]
            return [n for n in items if n["body"]["person_id"] == pid and n["dead_lettered_at"]]

        letters = await until(dead, "a dead-lettered notification")
        assert (
            letters[0]["attempts"] == 3
            and letters[0]["last_error"] == "HTTP 500"
            and letters[0]["kind"] == "warning"
        )
        event = (await breach_events(infra, pid, {"breach.notification_dead_lettered"}, 1))[0]["payload"]
        assert event["notification_id"] == letters[0]["notification_id"]


async def test_arrest_requests_from_assessment_failures_and_bail_breaches_close_on_rebooking(
    infra: Infra, unique: str
) -> None:
    async with services(infra, unique) as s:
        pid = s.person()
        failure = FailureNotified(
            assessment_id=f"A-{unique}",
            detention_id="D1",
            kind="initial",
            outcome="failed_to_attend",
            offence="DA05 s.12(3)",
            imposed_at=None,
            notice="RA1",
            appointment_at=datetime.now(UTC),
            place="DIP office",
            worker_id="W1",
            follow_up_ended=True,
            suite="MET-BRIXTON",
            area="lambeth",
            rule_ids=["A4"],
        )
        await s.publish(REFERRAL_EVENTS.name, pid, failure, "referral")
        bail = BailConditionBreached(
            detention_id=f"D-{unique}", area="lambeth", what="missed the assessment", rule_ids=["B4"]
        )
        await s.publish(REFERRAL_EVENTS.name, pid, bail, "referral")
        police = bearer(Role.police_enforcement, "lambeth")

        async def both() -> Any:
            rows = (
                await s.breach.get(
                    "/v1/arrest-requests", params={"area": "lambeth", "open": "true"}, headers=police
                )
            ).json()
            mine = [r for r in rows if r["person_id"] == pid]
            return mine if len(mine) == 2 else None

        requests = await until(both, "two arrest requests")
        # A6: a second failure whose prosecution is then dropped: its request is cancelled, not left open
        dropped = FailureNotified(**{**failure.model_dump(), "assessment_id": f"A2-{unique}"})
        await s.publish(REFERRAL_EVENTS.name, pid, dropped, "referral")
        ended = RequirementsEnded(
            assessment_id=f"A2-{unique}",
            detention_id="D2",
            reason="negative_confirmation",
            prosecution_dropped=True,
            rule_ids=["A6"],
        )
        await s.publish(REFERRAL_EVENTS.name, pid, ended, "referral")
        cancelled = (await breach_events(infra, pid, {"breach.arrest_request_cancelled"}, 1))[0]["payload"]
        assert cancelled["rule_ids"] == ["A6"]
        by_source = {r["source"]: r for r in requests}
        assert "DA05 s.12(3)" in by_source["assessment_failure"]["basis"]
        assert "BA76 s.7(3)" in by_source["bail_condition"]["basis"]
        assert (
            await s.breach.get(
                "/v1/arrest-requests",
                params={"area": "lambeth"},
                headers=bearer(Role.police_enforcement, "camden"),
            )
        ).status_code == 403
        booking = {
            "person_id": pid,
            "name": "Test Person",
            "date_of_birth": "1970-01-15",
            "home_area": "lambeth",
            "suite": "MET-BRIXTON",
            "arrested_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            "offences": [{"code": "BA1976-s7", "offence_date": datetime.now(UTC).date().isoformat()}],
        }
        assert (await s.custody.post("/v1/detentions", json=booking, headers=bearer())).status_code == 201
        made = await breach_events(infra, pid, {"breach.arrest_made"}, 2)
        assert sorted(e["payload"]["source"] for e in made) == ["assessment_failure", "bail_condition"]


async def test_d6_a_request_that_arrives_after_the_booking_that_answers_it_is_closed_at_once(
    infra: Infra, unique: str
) -> None:
    """Custody and referral events come on different topics, in no fixed order."""
    async with services(infra, unique) as s:
        pid = s.person()
        arrested = datetime.now(UTC)
        booking = {
            "person_id": pid,
            "name": "Test Person",
            "date_of_birth": "1970-01-15",
            "home_area": "lambeth",
            "suite": "MET-BRIXTON",
            "arrested_at": arrested.isoformat(),
            "offences": [{"code": "BA1976-s7", "offence_date": arrested.date().isoformat()}],
        }
        assert (await s.custody.post("/v1/detentions", json=booking, headers=bearer())).status_code == 201
        await asyncio.sleep(2)  # let the booking be consumed first, the order this test is about
        breached = BailConditionBreached(
            detention_id=f"D-{unique}", area="lambeth", what="missed", rule_ids=["B4"]
        )
        await s.publish(REFERRAL_EVENTS.name, pid, breached, "referral", at=arrested - timedelta(hours=3))
        made = (await breach_events(infra, pid, {"breach.arrest_made"}, 1))[0]["payload"]
        assert made["source"] == "bail_condition" and 2.9 < made["hours_to_arrest"] < 3.1


async def test_d2_the_formal_warning_carries_its_text_to_the_api_the_order_and_the_liaison_feed(
    infra: Infra, unique: str
) -> None:
    async with services(infra, unique) as s:
        pid, order_id = s.person(), f"DRR-W-{unique}"
        assert (
            await s.breach.post("/v1/orders", json=order_body(pid, order_id), headers=LIAISON)
        ).status_code == 201
        answer = await s.breach.post(
            f"/v1/orders/{order_id}/compliance",
            json={"kind": "unacceptable_absence", "on": "2008-03-03", "reason": "missed the 10:00 review"},
            headers=LIAISON,
        )
        assert answer.status_code == 200 and answer.json()["decision"] == "warning"
        text = answer.json()["warning_text"]
        assert (
            "On 03 March 2008 you failed without reasonable excuse" in text
            and "missed the 10:00 review" in text
        )
        assert "This failure is unacceptable." in text and "on or before 02 March 2009" in text
        order = (await s.breach.get(f"/v1/orders/{order_id}", headers=LIAISON)).json()
        assert order["warnings"][0]["text"] == text
        feed = (await s.breach.get("/v1/notifications", params={"area": "lambeth"}, headers=LIAISON)).json()
        warnings = [n for n in feed["items"] if n["kind"] == "warning" and n["body"]["person_id"] == pid]
        assert warnings[0]["body"]["text"] == text
        event = (await breach_events(infra, pid, {"breach.warning_issued"}, 1))[0]["payload"]
        assert event["text"] == text


async def test_a4_an_arrest_request_for_a_failure_to_remain_says_failure_to_remain(
    infra: Infra, unique: str
) -> None:
    async with services(infra, unique) as s:
        pid = s.person()
        failure = FailureNotified(
            assessment_id=f"A-{unique}",
            detention_id="D1",
            kind="initial",
            outcome="failed_to_remain",
            offence="DA05 s.12(3)",
            imposed_at=None,
            notice="RA1",
            appointment_at=datetime.now(UTC),
            place="DIP office",
            worker_id="W1",
            follow_up_ended=False,
            suite="MET-BRIXTON",
            area="lambeth",
            rule_ids=["A4"],
            what="failed without good cause to remain for the whole of the initial assessment",
        )
        await s.publish(REFERRAL_EVENTS.name, pid, failure, "referral")
        police = bearer(Role.police_enforcement, "lambeth")

        async def requested() -> Any:
            rows = (
                await s.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=police)
            ).json()
            return [r for r in rows if r["person_id"] == pid]

        request = (await until(requested, "the arrest request"))[0]
        assert request["basis"].startswith("failure to remain for the whole of a required assessment")
        assert "attend" not in request["basis"]
        feed = (await s.breach.get("/v1/notifications", params={"area": "lambeth"}, headers=LIAISON)).json()
        notice = next(
            n for n in feed["items"] if n["kind"] == "arrest_requested" and n["body"]["person_id"] == pid
        )
        assert notice["body"]["basis"] == request["basis"]

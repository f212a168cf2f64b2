"""Referral's clocks raise alerts to the people who must act (A4/A5 attendance overdue, A9 nobody free): once, at
the facts' own time, on the role's feed and its signed webhook, escalated, and resolved by the event that
answers them, across a restart of the service."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.referral.stack import MANAGER, bearer, running_stack, uvicorn_app, worker_token
from tests.support.alerts import alert_feed

FAST = {"attendance_grace_minutes": 0, "overdue_escalation_hours": 2 / 3600, "webhook_retry_base_s": 0.5}


def receiver(received: list[tuple[bytes, dict[str, str]]]) -> FastAPI:
    app = FastAPI()

    @app.post("/alerts")
    async def hook(request: Request) -> Response:
        received.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    return app


def signed(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    message = headers["x-dipflow-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-dipflow-signature"], expected)


async def test_a4_an_appointment_passed_without_attendance_alerts_the_worker_then_the_managers_until_recorded(
    infra: Infra, unique: str
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    secret = f"alert-secret-{unique}-0123456789"
    at = datetime(2010, 5, 4, 11, tzinfo=UTC)
    async with uvicorn_app(receiver(received)) as hook:  # the receiver outlives both runs of the service
        async with running_stack(infra, unique, **FAST) as stack:
            for role in ("referral_worker", "referral_manager"):
                body = {"role": role, "area": "lambeth", "url": f"{hook}/alerts", "secret": secret}
                answer = await stack.referral.put("/v1/alert-receivers", json=body, headers=MANAGER)
                assert answer.status_code == 204, answer.text
            await stack.add_worker("W1")
            me = worker_token(stack.wid("W1"))
            did = await stack.positive(stack.person(), at)
            a = await stack.assessment_for(did)
            case = f"/v1/assessments/{a['assessment_id']}"
            imposed = await stack.referral.post(
                f"{case}/impose",
                json={"place": "DIP office", "at": (at + timedelta(hours=1)).isoformat()},
                headers=bearer(),
            )
            assert imposed.status_code == 200, imposed.text
            appointment_at = datetime.fromisoformat(imposed.json()["initial"]["at"])

            def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [i for i in items if i["case_id"] == a["assessment_id"]]

            raised = mine(await alert_feed(stack.referral, me, lambda items: bool(mine(items))))
            assert len(raised) == 1
            alert = raised[0]
            assert (alert["kind"], alert["role"], alert["assignee"], alert["area"]) == (
                "attendance-overdue",
                "referral_worker",
                stack.wid("W1"),
                "lambeth",
            )
            assert datetime.fromisoformat(alert["due_at"]) == appointment_at  # the fact's time, grace 0
            assert alert["rule_ids"] == ["A4", "A3"]
            inbox = (await stack.referral.get("/v1/inbox", headers=me)).json()
            assert [i["overdue"] for i in inbox if i["assessment_id"] == a["assessment_id"]] == [True]
            other = worker_token(f"W2-{unique}")
            assert mine((await stack.referral.get("/v1/alerts", headers=other)).json()["items"]) == []

            escalated = mine(
                await alert_feed(
                    stack.referral, MANAGER, lambda items: any(i["state"] == "escalated" for i in mine(items))
                )
            )
            assert [(e["alert_id"], e["role"]) for e in escalated] == [
                (alert["alert_id"], "referral_manager")
            ]

        # the service restarts between the alert and its answer
        async with running_stack(infra, unique, **FAST) as stack:
            recorded = await stack.referral.post(
                f"{case}/attendance", json={"outcome": "attended"}, headers=worker_token(stack.wid("W1"))
            )
            assert recorded.status_code == 200, recorded.text
            resolved = await alert_feed(
                stack.referral,
                MANAGER,
                lambda items: any(i["case_id"] == a["assessment_id"] for i in items),
                state="resolved",
            )
            done = next(i for i in resolved if i["case_id"] == a["assessment_id"])
            assert done["alert_id"] == alert["alert_id"] and done["resolution"]
            open_now = (await stack.referral.get("/v1/alerts", headers=MANAGER)).json()["items"]
            assert mine(open_now) == []

            def deliveries() -> dict[str, tuple[str, str]]:
                """What the receiver got about this case, by delivery id (a retried attempt is the same one)."""
                about = ((orjson.loads(b), h) for b, h in received)
                return {
                    h["x-dipflow-delivery"]: (p["event"], p["role"])
                    for p, h in about
                    if p["case_id"] == a["assessment_id"]
                }

            async with asyncio.timeout(30):  # the escalation's delivery may be retried after the restart
                while len(deliveries()) < 2:
                    await asyncio.sleep(0.1)
    assert sorted(deliveries().values()) == [("escalated", "referral_manager"), ("raised", "referral_worker")]
    bodies = [orjson.loads(b) for b, _ in received]

    assert all(signed(secret, b, h) for b, h in received)
    assert all("person_id" not in p for p in bodies)


async def test_a9_an_appointment_nobody_can_take_alerts_the_managers_at_once_and_is_resolved_when_taken(
    infra: Infra, unique: str
) -> None:
    async with running_stack(infra, unique, **FAST) as stack:
        did = await stack.positive(stack.person(), datetime(2010, 6, 7, 11, tzinfo=UTC))
        a = await stack.assessment_for(did)

        def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                i
                for i in items
                if i["case_id"] == a["assessment_id"] and i["kind"] == "appointment-unassigned"
            ]

        raised = mine(await alert_feed(stack.referral, MANAGER, lambda items: bool(mine(items))))
        assert len(raised) == 1 and raised[0]["rule_ids"] == ["A9"]
        ack = await stack.referral.post(f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=MANAGER)
        assert ack.status_code == 200 and ack.json()["acknowledged_by"], ack.text
        elsewhere = bearer(Role.referral_manager, "camden")
        refused = await stack.referral.post(
            f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=elsewhere
        )
        assert refused.status_code == 403
        await stack.add_worker("W1")  # a worker covering the suite: the queue is given out (A9)
        resolved = await alert_feed(
            stack.referral, MANAGER, lambda items: bool(mine(items)), state="resolved"
        )
        assert mine(resolved)[0]["resolution"] == f"assigned to {stack.wid('W1')}"


async def test_a9_the_managers_alert_of_an_appointment_nobody_took_is_resolved_when_the_requirement_lapses(
    infra: Infra, unique: str
) -> None:
    async with running_stack(infra, unique, **FAST) as stack:
        at = datetime(2010, 6, 8, 11, tzinfo=UTC)
        did = await stack.positive(stack.person(), at)
        a = await stack.assessment_for(did)

        def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if i["case_id"] == a["assessment_id"]]

        raised = await alert_feed(stack.referral, MANAGER, lambda items: bool(mine(items)))
        assert [i["kind"] for i in mine(raised)] == ["appointment-unassigned"]
        release = {"release": "no_further_action", "at": (at + timedelta(hours=2)).isoformat()}
        await stack.custody_action(did, "release", {**release, "lapse_confirmed": True})
        resolved = await alert_feed(
            stack.referral, MANAGER, lambda items: bool(mine(items)), state="resolved"
        )
        assert mine(resolved)[0]["resolution"] == "the requirement is lapsed"
        open_ones = (await stack.referral.get("/v1/alerts", headers=MANAGER)).json()["items"]
        assert mine(open_ones) == []

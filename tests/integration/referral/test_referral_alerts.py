"""Referral's clocks raise alerts to the people who must act (A4/A5 attendance overdue, A9 nobody free): once, at
the facts' own time, on the role's feed and its signed webhook, escalated, and resolved by the event that
answers them, across a restart of the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.referral.stack import MANAGER, bearer, running_stack, worker_token
from tests.support.alerts import alert_feed, alert_hook

FAST = {"attendance_grace_minutes": 0, "overdue_escalation_hours": 2 / 3600, "webhook_retry_base_s": 0.5}


async def test_a4_an_appointment_passed_without_attendance_alerts_the_worker_then_the_managers_until_recorded(
    infra: Infra, unique: str
) -> None:
    secret = f"alert-secret-{unique}-0123456789"
    at = datetime(2010, 5, 4, 11, tzinfo=UTC)
    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the service
        async with running_stack(infra, unique, **FAST) as stack:
            for role in ("referral_worker", "referral_manager"):
                body = {"role": role, "area": "lambeth", "url": url, "secret": secret}
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

            # the escalation's delivery may be retried after the restart
            assert await hook.wait_for(a["assessment_id"], 2) == [
                ("escalated", "attendance-overdue", "referral_manager"),
                ("raised", "attendance-overdue", "referral_worker"),
            ]
    assert len(hook.about(a["assessment_id"])) == 2 and hook.unsigned == 0
    assert all("person_id" not in p for p, _ in hook.received)


async def test_a9_an_appointment_nobody_can_take_alerts_the_managers_at_once_and_is_resolved_when_taken(
    infra: Infra, unique: str
) -> None:
    secret = f"a9-secret-{unique}-0123456789abcdef"

    def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            i for i in items if i["case_id"] == a["assessment_id"] and i["kind"] == "appointment-unassigned"
        ]

    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the service
        async with running_stack(infra, unique, **FAST) as stack:
            body = {"role": "referral_manager", "area": "lambeth", "url": url, "secret": secret}
            assert (
                await stack.referral.put("/v1/alert-receivers", json=body, headers=MANAGER)
            ).status_code == 204
            did = await stack.positive(stack.person(), datetime(2010, 6, 7, 11, tzinfo=UTC))
            a = await stack.assessment_for(did)
            raised = mine(await alert_feed(stack.referral, MANAGER, lambda items: bool(mine(items))))
            assert len(raised) == 1 and raised[0]["rule_ids"] == ["A9"]
            ack = await stack.referral.post(
                f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=MANAGER
            )
            assert ack.status_code == 200 and ack.json()["acknowledged_by"], ack.text
            elsewhere = bearer(Role.referral_manager, "camden")
            refused = await stack.referral.post(
                f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=elsewhere
            )
            assert refused.status_code == 403
            # (its escalation, due a day before an appointment already past, may come at any moment)
            assert ("raised", "appointment-unassigned", "referral_manager") in await hook.wait_for(
                a["assessment_id"], 1
            )

        async with running_stack(infra, unique, **FAST) as stack:  # restarted between raise and answer
            await stack.add_worker("W1")  # a worker covering the suite: the queue is given out (A9)
            resolved = await alert_feed(
                stack.referral, MANAGER, lambda items: bool(mine(items)), state="resolved"
            )
            assert mine(resolved)[0]["resolution"] == f"assigned to {stack.wid('W1')}"
    raised_once = [v for v in hook.about(a["assessment_id"]).values() if v[0] == "raised"]
    assert raised_once == [("raised", "appointment-unassigned", "referral_manager")] and hook.unsigned == 0


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

"""B3/B4 through the custody and referral APIs and the real topics: a court's bail condition to undergo
assessment sets its appointment (the court's time and place, else a worker's first slot after the decision); its
attendance is tracked like a required assessment's (a clock alerts the worker when it passed unrecorded); a
failure without good cause is the breach, with nobody typing it in: ``referral.bail_condition_breached`` (breach
asks for an arrest under BA76 s.7(3)) and an alert to the area's court liaison."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.referral.stack import (
    MANAGER,
    Stack,
    bearer,
    referral_events,
    running_stack,
    worker_token,
)
from tests.support.alerts import alert_feed, alert_hook

LONDON = ZoneInfo("Europe/London")
LIAISON = bearer(Role.court_liaison, "lambeth")
MONDAY = datetime(2010, 3, 1, 11, tzinfo=UTC)
FAST = {"attendance_grace_minutes": 0, "overdue_escalation_hours": 2 / 3600}
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def stack(infra: Infra, unique: str) -> AsyncIterator[Stack]:
    async with running_stack(infra, unique) as s:
        yield s


async def bailed(stack: Stack, n: int, **condition: Any) -> tuple[str, dict[str, Any]]:
    """A charged person with a positive result who agreed to an assessment, bailed on Tuesday 2 March 2010 with a
    condition to undergo it: the detention id and the bail case the court's outcome answered with."""
    did = await stack.positive(stack.person(n), MONDAY, charge=True)
    await stack.bail_case(did)
    agreed = await stack.referral.post(
        f"/v1/bail-cases/{did}/agreement",
        json={"agreed": True, "substantial_grounds": True},
        headers=bearer(),
    )
    assert agreed.status_code == 200 and agreed.json()["restriction"] == "condition", agreed.text
    body = {
        "outcome": "bail_with_assessment_condition",
        "court": "Camberwell Green Magistrates",
        "decided_on": "2010-03-02",
        **condition,
    }
    court = await stack.referral.post(f"/v1/bail-cases/{did}/outcome", json=body, headers=LIAISON)
    assert court.status_code == 200, court.text
    case: dict[str, Any] = court.json()
    return did, case


async def test_b3_a_condition_to_undergo_assessment_schedules_its_appointment_with_a_worker(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1")
    did, case = await bailed(stack, 1)
    at = datetime.fromisoformat(case["condition_appointment_at"])
    # the first working day after the decision (Wednesday 3 March), a slot of the worker covering the suite
    assert at.astimezone(LONDON).date() == datetime(2010, 3, 3).date() and at.astimezone(LONDON).minute == 30
    assert case["condition_worker_id"] == stack.wid("W1") and case["condition_place"]
    assert case["condition_attendance"] is None and case["condition_complied"] is None
    assert (await stack.bail_case(did))["condition_appointment_at"] == case["condition_appointment_at"]
    (event,) = await referral_events(infra, stack.person(1), {"referral.condition_appointment_set"}, 1)
    payload = event["payload"]
    assert (payload["detention_id"], payload["worker_id"], payload["rule_ids"]) == (
        did,
        stack.wid("W1"),
        ["B3"],
    )
    assert datetime.fromisoformat(payload["appointment_at"]) == at and payload["set_by_court"] is False

    # the court set the time and place in the condition: kept as set
    court_time = datetime(2010, 3, 4, 14, tzinfo=UTC)
    _, set_by_court = await bailed(
        stack, 2, appointment_at=court_time.isoformat(), place="Brixton DIP office, Room 2"
    )
    assert datetime.fromisoformat(set_by_court["condition_appointment_at"]) == court_time
    assert set_by_court["condition_place"] == "Brixton DIP office, Room 2"
    assert set_by_court["condition_worker_id"] == stack.wid("W1")


async def test_b3_b4_a_failure_without_good_cause_is_the_breach_an_arrest_request_and_a_court_liaison_alert(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1")
    did, _ = await bailed(stack, 1)
    url = f"/v1/bail-cases/{did}/condition-attendance"
    me = worker_token(stack.wid("W1"))
    failed = await stack.referral.post(url, json={"outcome": "failed_to_attend"}, headers=me)
    assert failed.status_code == 200, failed.text
    view = failed.json()
    assert view["breached_at"] and "without good cause" in view["breach_what"]
    assert (view["condition_attendance"], view["condition_complied"]) == ("failed_to_attend", False)
    # on the topic breach reads: the breach (B4), after the attendance record (B3)
    types = {"referral.condition_attendance_recorded", "referral.bail_condition_breached"}
    recorded, breached = await referral_events(infra, stack.person(1), types, 2)
    assert recorded["type"] == "referral.condition_attendance_recorded"
    assert recorded["payload"]["breached"] is True and recorded["payload"]["rule_ids"] == ["B3", "B4"]
    assert breached["type"] == "referral.bail_condition_breached"
    assert (breached["payload"]["detention_id"], breached["payload"]["area"]) == (did, "lambeth")
    assert breached["payload"]["rule_ids"] == ["B4"]
    # court liaison of the area are told at once, nobody having typed the breach in
    items = await alert_feed(stack.referral, LIAISON, lambda items: any(i["case_id"] == did for i in items))
    mine = [i for i in items if i["case_id"] == did]
    assert [(i["kind"], i["role"], i["area"], i["rule_ids"]) for i in mine] == [
        ("bail-condition-failed", "court_liaison", "lambeth", ["B3", "B4"])
    ]
    # a second record is refused, and changes nothing
    again = await stack.referral.post(url, json={"outcome": "failed_to_remain"}, headers=me)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert "B3" in again.text
    assert (await stack.bail_case(did))["condition_attendance"] == "failed_to_attend"
    # a worker the person is not assigned to may not record it
    other = worker_token(f"W2-{stack.unique}")
    assert (await stack.referral.post(url, json={"outcome": "attended"}, headers=other)).status_code == 403


async def test_b3_good_cause_is_recorded_and_is_no_breach(stack: Stack, infra: Infra) -> None:
    await stack.add_worker("W1")
    did, _ = await bailed(stack, 1)
    url = f"/v1/bail-cases/{did}/condition-attendance"
    answer = await stack.referral.post(
        url, json={"outcome": "failed_to_attend", "good_cause": True}, headers=MANAGER
    )
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["breached_at"] is None and view["condition_good_cause"] is True
    assert view["condition_complied"] is None
    types = {"referral.condition_attendance_recorded", "referral.bail_condition_breached"}
    with pytest.raises(AssertionError, match=r"got \['referral.condition_attendance_recorded'\]"):
        await referral_events(infra, stack.person(1), types, 2, timeout_s=5)
    alerts = (await stack.referral.get("/v1/alerts", headers=LIAISON)).json()["items"]
    assert [i for i in alerts if i["case_id"] == did] == []


async def test_b3_the_conditions_appointment_passed_alerts_the_worker_once_until_attendance_is_recorded(
    infra: Infra, unique: str
) -> None:
    secret = f"b3-secret-{unique}-0123456789abcdef"
    fast = {**FAST, "webhook_retry_base_s": 0.5}

    def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["case_id"] == did and i["kind"] == "condition-attendance-overdue"]

    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the service
        async with running_stack(infra, unique, **fast) as stack:
            for role in ("referral_worker", "referral_manager"):
                receiver = {"role": role, "area": "lambeth", "url": url, "secret": secret}
                assert (
                    await stack.referral.put("/v1/alert-receivers", json=receiver, headers=MANAGER)
                ).status_code == 204
            await stack.add_worker("W1")
            did, case = await bailed(stack, 1)
            appointment_at = datetime.fromisoformat(case["condition_appointment_at"])
            me = worker_token(stack.wid("W1"))
            raised = mine(await alert_feed(stack.referral, me, lambda items: bool(mine(items))))
            assert len(raised) == 1
            alert = raised[0]
            assert (alert["role"], alert["assignee"], alert["area"], alert["rule_ids"]) == (
                "referral_worker",
                stack.wid("W1"),
                "lambeth",
                ["B3"],
            )
            assert datetime.fromisoformat(alert["due_at"]) == appointment_at  # the fact's own time, grace 0
            escalated = mine(
                await alert_feed(
                    stack.referral, MANAGER, lambda items: any(i["state"] == "escalated" for i in mine(items))
                )
            )
            assert [(e["alert_id"], e["role"]) for e in escalated] == [
                (alert["alert_id"], "referral_manager")
            ]

        async with running_stack(
            infra, unique, **fast
        ) as stack:  # restarted between the alert and its answer
            recorded = await stack.referral.post(
                f"/v1/bail-cases/{did}/condition-attendance",
                json={"outcome": "attended", "at": (appointment_at + timedelta(minutes=5)).isoformat()},
                headers=worker_token(stack.wid("W1")),
            )
            assert recorded.status_code == 200, recorded.text
            assert recorded.json()["condition_complied"] is True and recorded.json()["breached_at"] is None
            resolved = mine(
                await alert_feed(stack.referral, MANAGER, lambda items: bool(mine(items)), state="resolved")
            )
            assert [(r["alert_id"], r["resolution"]) for r in resolved] == [
                (alert["alert_id"], "attendance recorded: attended")
            ]
            assert mine((await stack.referral.get("/v1/alerts", headers=MANAGER)).json()["items"]) == []
            assert await hook.wait_for(did, 2) == [
                ("escalated", "condition-attendance-overdue", "referral_manager"),
                ("raised", "condition-attendance-overdue", "referral_worker"),
            ]
    assert len(hook.about(did)) == 2 and hook.unsigned == 0  # each once, across the restart


async def test_b4_arrested_for_the_breach_court_liaison_are_told_before_a_justice_by_and_when_it_passes(
    infra: Infra, unique: str
) -> None:
    secret = f"b4-secret-{unique}-0123456789abcdef"
    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the services
        async with running_stack(infra, unique, webhook_retry_base_s=0.5) as stack:
            receiver = {"role": "court_liaison", "area": "lambeth", "url": url, "secret": secret}
            put = await stack.referral.put(
                "/v1/alert-receivers", json=receiver, headers=bearer(Role.admin, "*")
            )
            assert put.status_code == 204, put.text
            await stack.add_worker("W1")
            did, case = await bailed(stack, 1)
            failed_at = datetime.fromisoformat(case["condition_appointment_at"]) + timedelta(hours=1)
            failed = await stack.referral.post(
                f"/v1/bail-cases/{did}/condition-attendance",
                json={"outcome": "failed_to_attend", "at": failed_at.isoformat()},
                headers=worker_token(stack.wid("W1")),
            )
            assert failed.status_code == 200 and failed.json()["breached_at"], failed.text

            def mine(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
                return {i["kind"]: i for i in items if i["case_id"] == did}

            await alert_feed(stack.referral, LIAISON, lambda items: "bail-condition-failed" in mine(items))
            # arrested under BA76 s.7(3) on Friday 5 March 2010: before a justice within 24 hours, long past
            friday = datetime(2010, 3, 5, 10, tzinfo=UTC)
            arrest = {
                "person_id": stack.person(1),
                "name": "Test Person",
                "date_of_birth": "1970-01-15",
                "home_area": "lambeth",
                "suite": "MET-BRIXTON",
                "arrested_at": friday.isoformat(),
                "booked_in_at": friday.isoformat(),
                "offences": [{"code": "BA1976-s7", "offence_date": "2010-03-05"}],
            }
            assert (
                await stack.custody.post("/v1/detentions", json=arrest, headers=bearer())
            ).status_code == 201
            escalated = mine(
                await alert_feed(
                    stack.referral,
                    LIAISON,
                    lambda items: mine(items).get("before-a-justice", {}).get("state") == "escalated",
                )
            )["before-a-justice"]
            assert (escalated["role"], escalated["rule_ids"]) == ("court_liaison", ["B4"])
            assert datetime.fromisoformat(escalated["due_at"]) == friday + timedelta(hours=24)
            resolved = mine(
                await alert_feed(
                    stack.referral,
                    LIAISON,
                    lambda items: "bail-condition-failed" in mine(items),
                    state="resolved",
                )
            )
            assert resolved["bail-condition-failed"]["resolution"].startswith("arrested")
            assert await hook.wait_for(did, 3) == [
                ("escalated", "before-a-justice", "court_liaison"),
                ("raised", "bail-condition-failed", "court_liaison"),
                ("raised", "before-a-justice", "court_liaison"),
            ]

        async with running_stack(infra, unique, webhook_retry_base_s=0.5) as stack:  # restarted
            done = await stack.referral.post(
                f"/v1/alerts/{escalated['alert_id']}/resolve",
                json={"resolution": "before Camberwell Green magistrates on Saturday"},
                headers=LIAISON,
            )
            assert done.status_code == 200 and done.json()["state"] == "resolved", done.text
            assert mine((await stack.referral.get("/v1/alerts", headers=LIAISON)).json()["items"]) == {}
    assert len(hook.about(did)) == 3 and hook.unsigned == 0  # each once, across the restart

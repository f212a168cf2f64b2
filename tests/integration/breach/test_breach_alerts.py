"""Breach's alerts (D4, D5, D6): a breach case's overdue steps to probation liaison, every arrest request to police
enforcement (escalated when its target passes), each on the role's feed and signed webhook, surviving a restart,
and resolved by what answers it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.breach.test_breach_scenarios import LIAISON, order_body, services
from tests.integration.referral.stack import bearer
from tests.support.alerts import alert_feed, alert_hook

POLICE = bearer(Role.police_enforcement, "lambeth")
ADMIN = bearer(Role.admin, "*")


async def test_d4_d5_overdue_steps_alert_probation_and_the_arrest_request_alerts_police_until_answered(
    infra: Infra, unique: str
) -> None:
    secret = f"breach-alerts-{unique}-0123456789abcdef"
    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the services
        async with services(infra, unique, webhook_retry_base_s=0.5) as s:
            for role in ("police_enforcement", "probation_liaison"):
                receiver = {"role": role, "area": "lambeth", "url": url, "secret": secret}
                assert (
                    await s.breach.put("/v1/alert-receivers", json=receiver, headers=ADMIN)
                ).status_code == 204
            pid, order_id = s.person(), f"DRR-{unique}"
            made = await s.breach.post("/v1/orders", json=order_body(pid, order_id), headers=LIAISON)
            assert made.status_code == 201, made.text
            for on in ("2008-03-05", "2009-02-01"):  # a warning, then the breach (S25)
                recorded = await s.breach.post(
                    f"/v1/orders/{order_id}/compliance",
                    json={"kind": "unacceptable_absence", "on": on},
                    headers=LIAISON,
                )
                assert recorded.status_code in (200, 201), recorded.text
            cases = (
                await s.breach.get("/v1/breach-cases", params={"area": "lambeth"}, headers=LIAISON)
            ).json()
            case_id = next(c["case_id"] for c in cases if c["order_id"] == order_id)

            def steps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [i for i in items if i["case_id"] == case_id and i["kind"] == "breach-step-overdue"]

            overdue = steps(await alert_feed(s.breach, LIAISON, lambda items: len(steps(items)) == 2))
            assert sorted(
                (a["summary"].split("'s ")[1].split(" ")[0], a["rule_ids"][0]) for a in overdue
            ) == [
                ("enforcement", "D4"),
                ("hearing", "D4"),
            ]

            def arrests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [i for i in items if i["kind"] == "arrest-requested" and i["person_id"] == pid]

            # the request's target (from the breach, in 2009) has long passed: pushed to the police and escalated
            pushed = arrests(
                await alert_feed(
                    s.breach, POLICE, lambda items: any(a["state"] == "escalated" for a in arrests(items))
                )
            )
            assert len(pushed) == 1 and pushed[0]["role"] == "police_enforcement"
            liaison_sees = (await s.breach.get("/v1/alerts", headers=LIAISON)).json()["items"]
            assert arrests(liaison_sees) == []  # the police's alert, not probation's
            assert await hook.wait_for(case_id, 2) == [
                ("raised", "breach-step-overdue", "probation_liaison"),
                ("raised", "breach-step-overdue", "probation_liaison"),
            ]
            request_case = pushed[0]["case_id"]
            assert await hook.wait_for(request_case, 2) == [
                ("escalated", "arrest-requested", "police_enforcement"),
                ("raised", "arrest-requested", "police_enforcement"),
            ]

        async with services(
            infra, unique, webhook_retry_base_s=0.5
        ) as s:  # restarted between raise and answer
            enforced = await s.breach.post(
                f"/v1/breach-cases/{case_id}/enforcement", json={"action": "summons"}, headers=LIAISON
            )
            assert enforced.status_code in (200, 204), enforced.text
            resolved = steps(
                await alert_feed(s.breach, LIAISON, lambda items: bool(steps(items)), state="resolved")
            )
            assert [a["resolution"] for a in resolved] == ["enforcement recorded"]

            booking = {
                "person_id": pid,
                "name": "Test Person",
                "date_of_birth": "1970-01-15",
                "home_area": "lambeth",
                "suite": "MET-BRIXTON",
                "arrested_at": datetime.now(UTC).isoformat(),
                "offences": [{"code": "TA1968-s1", "offence_date": datetime.now(UTC).date().isoformat()}],
            }
            assert (await s.custody.post("/v1/detentions", json=booking, headers=bearer())).status_code == 201
            closed = arrests(
                await alert_feed(s.breach, POLICE, lambda items: bool(arrests(items)), state="resolved")
            )
            assert closed[0]["resolution"].startswith("arrested")
    assert len(hook.about(request_case)) == 2 and hook.unsigned == 0  # each once, across the restart
    assert all("person_id" not in p for p, _ in hook.received)

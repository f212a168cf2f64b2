"""Custody's clocks as alerts (T3, T12): raised once at the fact's own time to the role that must act, on its
feed and its signed webhook, surviving a restart of the service, and resolved by the action that answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from dipflow_custody.main import create_app
from dipflow_custody.settings import CustodySettings
from tests.infra import Infra
from tests.integration.custody.test_custody_api import AUTH, bearer, person
from tests.integration.custody.test_custody_law import MINUTE, at, booked_in, officer, post
from tests.support.alerts import alert_feed, alert_hook
from tests.support.sample_app import serve

ADMIN = bearer(Role.admin, "*")


@asynccontextmanager
async def custody_service(infra: Infra, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    """The custody service on its own database and groups: entered again, the same service restarted."""
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    settings = CustodySettings(
        service_name=f"custody-{unique}",
        database_url=server_dsn(infra.postgres_dsn, f"custody_{unique}"),
        kafka_bootstrap=infra.kafka_bootstrap,
        webhook_retry_base_s=0.5,
    )
    async with serve(create_app(settings, auth_settings=AUTH)) as client:
        yield client


async def test_t3_an_oral_authorisation_not_confirmed_in_writing_alerts_the_inspectors_until_it_is(
    infra: Infra, unique: str
) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    decided_at = booked + timedelta(minutes=40)
    ruth = officer("insp-ruth", Role.inspector)
    secret = f"t3-secret-{unique}-0123456789abcdef"

    def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["case_id"] == did]

    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the service
        async with custody_service(infra, unique) as custody:
            receiver = {"role": "inspector", "area": "lambeth", "url": url, "secret": secret}
            assert (await custody.put("/v1/alert-receivers", json=receiver, headers=ADMIN)).status_code == 204
            did = await booked_in(custody, person(unique), booked, "CDA1971-s1")
            body = {
                "decision": "authorised",
                "rank": "inspector",
                "grounds": "crack use admitted",
                "oral": True,
            }
            decided = await post(custody, did, "inspector-decision", {**body, **at(decided_at)}, headers=ruth)
            assert decided.status_code == 200, decided.text
            raised = mine(await alert_feed(custody, ruth, lambda items: bool(mine(items))))
            assert [(a["kind"], a["role"], a["rule_ids"]) for a in raised] == [
                ("written-confirmation-overdue", "inspector", ["T3"])
            ]
            # due the setting's default (24 hours) after the authorisation's own time, long past: raised at once
            assert datetime.fromisoformat(raised[0]["due_at"]) == decided_at + timedelta(hours=24)
            officers = (await custody.get("/v1/alerts", headers=bearer())).json()["items"]
            assert mine(officers) == []  # custody officers do not confirm authorisations
            assert await hook.wait_for(did, 1) == [("raised", "written-confirmation-overdue", "inspector")]

        async with custody_service(infra, unique) as custody:  # restarted between the raise and the answer
            confirmed = await post(
                custody, did, "written-confirmation", at(decided_at + timedelta(days=2)), headers=ruth
            )
            assert confirmed.status_code == 200, confirmed.text
            resolved = mine(
                await alert_feed(custody, ruth, lambda items: bool(mine(items)), state="resolved")
            )
            assert [(a["alert_id"], a["resolution"]) for a in resolved] == [
                (raised[0]["alert_id"], "confirmed in writing")
            ]
            assert mine((await custody.get("/v1/alerts", headers=ruth)).json()["items"]) == []
    assert len(hook.about(did)) == 1 and hook.unsigned == 0  # raised once, across the restart
    assert all("person_id" not in p for p, _ in hook.received)


async def test_t12_an_overdue_confirmatory_result_alerts_the_suites_custody_officers_until_it_comes(
    infra: Infra, unique: str
) -> None:
    booked = datetime(2008, 9, 4, 10, 20, tzinfo=UTC)
    lambeth = officer("pc-lee")
    secret = f"t12-secret-{unique}-0123456789abcdef"

    def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if i["case_id"] == did]

    async with alert_hook(secret) as (hook, url):  # the receiver outlives both runs of the service
        async with custody_service(infra, unique) as custody:
            receiver = {"role": "custody_officer", "area": "lambeth", "url": url, "secret": secret}
            assert (await custody.put("/v1/alert-receivers", json=receiver, headers=ADMIN)).status_code == 204
            did = await booked_in(custody, person(unique), booked)
            await post(custody, did, "warning", at(booked + MINUTE))
            await post(custody, did, "sample", at(booked + 2 * MINUTE))
            result = {"drug": "crack", "result": "positive", "disputed": True, **at(booked + 5 * MINUTE)}
            await post(custody, did, "results", result)
            dispatched = await post(
                custody, did, "confirmation-dispatch", at(datetime(2008, 9, 5, 15, tzinfo=UTC))
            )
            assert dispatched.status_code == 200, dispatched.text
            raised = mine(await alert_feed(custody, lambeth, lambda items: bool(mine(items))))
            assert [(a["kind"], a["area"], a["rule_ids"]) for a in raised] == [
                ("confirmation-overdue", "lambeth", ["T12"])
            ]
            # the end of the fifth working day after the dispatch (London), long past: raised at once
            assert datetime.fromisoformat(raised[0]["due_at"]) == datetime(2008, 9, 12, 23, tzinfo=UTC)
            ack = await custody.post(f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=lambeth)
            assert ack.status_code == 200 and ack.json()["state"] == "acknowledged", ack.text
            inspector = await custody.post(
                f"/v1/alerts/{raised[0]['alert_id']}/acknowledge", headers=officer("i", Role.inspector)
            )
            assert inspector.status_code == 403  # not the role that must act
            assert await hook.wait_for(did, 1) == [("raised", "confirmation-overdue", "custody_officer")]

        async with custody_service(infra, unique) as custody:  # restarted between the raise and the answer
            confirmed = await post(
                custody, did, "confirmatory-result", {"drug": "cocaine", "result": "positive"}
            )
            assert confirmed.status_code == 200
            resolved = mine(
                await alert_feed(custody, lambeth, lambda items: bool(mine(items)), state="resolved")
            )
            assert [(a["alert_id"], a["resolution"]) for a in resolved] == [
                (raised[0]["alert_id"], "confirmatory result")
            ]
    assert len(hook.about(did)) == 1 and hook.unsigned == 0  # raised once, across the restart

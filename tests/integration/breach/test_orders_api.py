"""The orders API refuses what its contract does not say: a JSON boolean is true or false, not a number (found by
schemathesis: ``"high_risk": 0`` was taken for false), and nothing is written for a refused body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from dipflow_breach.main import create_app
from dipflow_breach.settings import BreachSettings
from tests.infra import Infra
from tests.support.sample_app import serve

pytestmark = pytest.mark.timeout(120)
SECRET = "breach-orders-secret-" + "x" * 30
AUTH = AuthSettings(dev_secret=SECRET)
LIAISON = {
    "Authorization": "Bearer "
    + mint_token(SECRET, subject="liaison-1", role=Role.probation_liaison, area="lambeth")
}


@pytest.fixture
async def breach(infra: Infra, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    settings = BreachSettings(
        service_name=f"breach-{unique}",
        database_url=server_dsn(infra.postgres_dsn, f"breach_{unique}"),
        kafka_bootstrap=infra.kafka_bootstrap,
    )
    async with serve(create_app(settings, AUTH)) as client:
        yield client


def order(order_id: str, **more: Any) -> dict[str, Any]:
    return {
        "person_id": "L-ORDERS-API",
        "order_id": order_id,
        "area": "lambeth",
        "court": "Camberwell Green",
        "start_date": "2008-01-14",
        "treatment_months": 12,
        "responsible_officer": "PO Smith",
        **more,
    }


@pytest.mark.parametrize("number", [0, 1])
async def test_d5_high_risk_given_as_a_number_is_a_422_naming_the_field_and_why(
    breach: httpx.AsyncClient, unique: str, number: int
) -> None:
    answer = await breach.post("/v1/orders", json=order(f"DRR-{unique}", high_risk=number), headers=LIAISON)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [(e["field"], e["reason"]) for e in answer.json()["errors"]] == [
        ("body.high_risk", "Input should be a valid boolean")
    ]
    assert (await breach.get(f"/v1/orders/DRR-{unique}", headers=LIAISON)).status_code == 404


async def test_d5_high_risk_as_a_boolean_is_kept_on_the_order(breach: httpx.AsyncClient, unique: str) -> None:
    made = await breach.post("/v1/orders", json=order(f"DRR-{unique}", high_risk=True), headers=LIAISON)
    assert (made.status_code, made.json()) == (201, {"order_id": f"DRR-{unique}", "created": True})

    read = await breach.get(f"/v1/orders/DRR-{unique}", headers=LIAISON)
    assert read.json()["order"]["high_risk"] is True


async def test_an_areas_orders_are_listed_running_ones_first_and_another_areas_liaison_is_refused(
    breach: httpx.AsyncClient, unique: str
) -> None:
    for name, start in (("OLD", "2007-06-01"), ("NEW", "2008-02-01"), ("ENDED", "2008-05-01")):
        made = await breach.post(
            "/v1/orders", json=order(f"DRR-{name}-{unique}", start_date=start), headers=LIAISON
        )
        assert made.status_code == 201, made.text
    ended = await breach.post(
        f"/v1/orders/DRR-ENDED-{unique}/end",
        json={"ended_on": "2008-06-01", "reason": "completed"},
        headers=LIAISON,
    )
    assert ended.status_code == 204, ended.text

    listed = await breach.get("/v1/orders", params={"area": "lambeth"}, headers=LIAISON)
    mine = [o["order_id"] for o in listed.json() if o["order_id"].endswith(unique)]
    assert mine == [f"DRR-NEW-{unique}", f"DRR-OLD-{unique}", f"DRR-ENDED-{unique}"]

    elsewhere = {
        "Authorization": "Bearer "
        + mint_token(SECRET, subject="liaison-2", role=Role.probation_liaison, area="southwark")
    }
    refused = await breach.get("/v1/orders", params={"area": "lambeth"}, headers=elsewhere)
    assert refused.status_code == 403, refused.text

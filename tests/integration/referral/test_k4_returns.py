"""K4 as the returns need it: by the drugs the test found (the 2003-06 plan's cocaine or crack, opiates, both),
by PPO status, by financial-year quarter, and as a file, from custody's real events."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.referral.stack import SUITE, Stack, bearer, running_stack
from tests.support.waiting import until

ANALYST = bearer(Role.analyst, "*")
FEBRUARY = {"from": "2015-02-01", "to": "2015-02-28"}  # a year no other test uses (the topics are shared)


@pytest.fixture
async def stack(infra: Infra, unique: str) -> AsyncIterator[Stack]:
    async with running_stack(infra, unique) as s:
        yield s


async def test_k4_by_drug_by_ppo_status_by_quarter_and_as_csv(stack: Stack) -> None:
    at = datetime(2015, 2, 6, 10, tzinfo=UTC)
    await stack.positive(stack.person(1), at, "cocaine")
    await stack.positive(stack.person(2), at + timedelta(days=1), "opiates")
    both = await stack.positive(stack.person(3), at + timedelta(days=2), "cocaine")
    await stack.custody_action(both, "results", {"drug": "opiates", "result": "positive"})
    negative = stack.person(4)
    body = {
        "person_id": negative,
        "name": "Test Person",
        "date_of_birth": "1980-01-15",
        "home_area": "lambeth",
        "suite": SUITE,
        "arrested_at": (at + timedelta(days=3)).isoformat(),
        "booked_in_at": (at + timedelta(days=3, minutes=10)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": (at + timedelta(days=3)).date().isoformat()}],
    }
    did = (await stack.custody.post("/v1/detentions", json=body, headers=bearer())).json()["detention_id"]
    for action, payload in (
        ("warning", {"at": (at + timedelta(days=3, minutes=20)).isoformat()}),
        ("sample", {"at": (at + timedelta(days=3, minutes=30)).isoformat()}),
        ("results", {"drug": "cocaine", "result": "negative"}),
    ):
        await stack.custody_action(did, action, payload)

    async def k4(**params: str) -> list[dict[str, Any]]:
        answer = await stack.referral.get("/v1/measures/k4", params={**FEBRUARY, **params}, headers=ANALYST)
        assert answer.status_code == 200, answer.text
        return [r for r in answer.json() if r["suite"] == SUITE]

    async def by_drug() -> dict[str, tuple[int, int]] | None:
        found = {r["group"]: (r["tests"], r["positives"]) for r in await k4(by="drug")}
        return found if sum(t for t, _ in found.values()) == 4 and len(found) == 4 else None

    assert await until(by_drug, "K4 by drug") == {
        "cocaine or crack": (1, 1),
        "opiates": (1, 1),
        "cocaine and opiates": (1, 1),
        "negative": (1, 0),
    }
    by_ppo = await k4(by="ppo")
    assert [(r["group"], r["tests"], r["positives"]) for r in by_ppo] == [
        ("not a PPO", 4, 3)
    ]  # custody said so
    whole = await k4(per="quarter")
    assert [(r["period"], r["group"], r["tests"]) for r in whole] == [("2014/15 Q4", None, 4)]
    as_csv = await stack.referral.get(
        "/v1/measures/k4", params={**FEBRUARY, "by": "drug", "format": "csv"}, headers=ANALYST
    )
    rows = [r for r in csv.DictReader(io.StringIO(as_csv.text)) if r["suite"] == SUITE]
    assert sorted((r["group"], int(r["tests"])) for r in rows) == sorted(
        (g, t) for g, (t, _) in (await by_drug() or {}).items()
    )

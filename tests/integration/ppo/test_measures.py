"""K1 and K2 from a generated event history, against real Kafka and PostgreSQL, compared with values computed
independently here from the same generated facts."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import httpx

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.ppo.custody_stream import Stream
from tests.integration.ppo.test_register_api import bearer, ppo
from tests.integration.ppo.test_tested_positive_and_panel import until_json

__all__ = ["ppo"]

BOROUGHS = ("camden", "brent")


async def test_k1_and_k2_match_an_independent_count_of_a_generated_history(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    rng = random.Random(unique)
    admin = bearer(Role.admin, "*")
    # Twelve people: eight PPOs with register periods (some ending, some moving borough), four never PPOs.
    register: dict[str, list[tuple[str, date, date | None]]] = {}
    for n in range(12):
        pid = f"L-{unique.upper()}-{n:02d}"
        if n >= 8:
            register[pid] = []
            continue
        start = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 60))
        borough = BOROUGHS[n % 2]
        body = {
            "person_id": pid,
            "borough": borough,
            "strand": "catch_and_convict",
            "start_date": start.isoformat(),
            "reason": "panel",
        }
        assert (await ppo.post("/v1/register", json=body, headers=admin)).status_code == 201
        periods: list[tuple[str, date, date | None]] = [(borough, start, None)]
        if n % 4 == 1:  # moves borough in April
            moved = date(2008, 4, 1)
            other = BOROUGHS[(n + 1) % 2]
            body = {**body, "borough": other, "start_date": moved.isoformat()}
            assert (await ppo.post("/v1/register", json=body, headers=admin)).status_code == 201
            periods = [(borough, start, moved - timedelta(days=1)), (other, moved, None)]
        elif n % 4 == 2:  # leaves the register at the end of March
            end = date(2008, 3, 31)
            answer = await ppo.post(
                f"/v1/register/{pid}/end",
                json={"end_date": end.isoformat(), "reason": "deselected"},
                headers=admin,
            )
            assert answer.status_code == 200
            periods = [(borough, start, end)]
        register[pid] = periods

    def ppo_borough(pid: str, day: date) -> str | None:
        return next((b for b, s, e in register[pid] if s <= day and (e is None or day <= e)), None)

    k1: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    k2: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    stream = Stream()
    for _ in range(80):
        pid = rng.choice(list(register))
        day = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 150))
        kind = rng.choice(["non_trigger", "non_trigger", "trigger", "bail_condition", "failed_assessment"])
        where = ppo_borough(pid, day)
        month = day.strftime("%Y-%m")
        if kind == "bail_condition":
            stream.detention(pid, day, "BA1976-s7", arrest_power=True)
            if where:
                k2[(month, where)][1] += 1
        elif kind == "failed_assessment":
            d = stream.detention(pid, day, "DA2005-s12")
            stream.charge(pid, d, day, ["DA2005-s12"])
            if where:
                k2[(month, where)][0] += 1
                k1[(month, where)][0] += 1  # a non-trigger offence too, with no inspector decision
        else:
            d = stream.detention(
                pid, day, "TA1968-s1" if kind == "trigger" else "CDA1971-s1", trigger=kind == "trigger"
            )
            was_decided = kind == "non_trigger" and rng.random() < 0.5
            if was_decided:
                stream.inspector(pid, d, day, rng.choice(["authorised", "declined"]))
            if where and kind == "non_trigger":
                k1[(month, where)][0] += 1
                k1[(month, where)][1] += was_decided
    await stream.publish(infra.kafka_bootstrap)

    expected_k1: dict[tuple[str, str], tuple[int, int]] = {key: (v[0], v[1]) for key, v in k1.items()}
    for (month, _), (arrests, decided) in list(k1.items()):
        total = expected_k1.get((month, "*"), (0, 0))
        expected_k1[(month, "*")] = (total[0] + arrests, total[1] + decided)
    expected_k2 = {key: (v[0], v[1]) for key, v in k2.items() if any(v)}
    analyst = bearer(Role.analyst, "*")
    window = {"from": "2008-01-01", "to": "2008-05-31"}

    def k1_seen(body: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
        return {
            (r["month"], r["borough"]): (r["ppo_non_trigger_arrests"], r["inspector_decisions"]) for r in body
        }

    got_k1 = await until_json(
        ppo, "/v1/measures/k1", window, analyst, lambda body: k1_seen(body) == expected_k1
    )
    for row in got_k1:
        arrests, decided = expected_k1[(row["month"], row["borough"])]
        assert row["share"] == decided / arrests

    def k2_seen(body: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
        return {
            (r["month"], r["borough"]): (
                r["prosecuted_for_failing_to_attend"],
                r["arrested_for_breaking_bail_condition"],
            )
            for r in body
            if r["borough"] != "*"
        }

    await until_json(ppo, "/v1/measures/k2", window, analyst, lambda body: k2_seen(body) == expected_k2)

    with_baseline = (
        await ppo.get("/v1/measures/k1", params={**window, "baseline": "2008-02"}, headers=analyst)
    ).json()
    base = {r["borough"]: r["share"] for r in with_baseline if r["month"] == "2008-02"}
    for row in with_baseline:
        assert row["baseline_month"] == "2008-02" and row["baseline_share"] == base.get(row["borough"])
        if row["baseline_share"]:
            assert row["change_relative"] == row["share"] / row["baseline_share"] - 1
            assert row["target_met"] == (row["change_relative"] >= 0.5)

    camden_only = (
        await ppo.get("/v1/measures/k1", params=window, headers=bearer(Role.analyst, "camden"))
    ).json()
    assert {r["borough"] for r in camden_only} <= {"camden"}
    assert "person_id" not in str(camden_only)

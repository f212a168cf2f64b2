"""K1 and K2 from a generated event history, against real Kafka and PostgreSQL, compared with values computed
independently here from the same generated facts."""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import openpyxl
import pytest

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.events.replay import replay
from dipflow.periods import Granularity, period_of
from dipflow_ppo_register.replay import SPEC
from tests.infra import Infra
from tests.integration.ppo.custody_stream import Stream, at
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

    # The independent count: per (day, borough) each fact, then summed into months, quarters and years.
    facts: list[tuple[date, str, str, str]] = []  # (day, borough, person, what)
    stream = Stream()
    charged_for_failing: list[tuple[str, date]] = []
    for _ in range(80):
        pid = rng.choice(list(register))
        day = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 150))
        kind = rng.choice(["non_trigger", "non_trigger", "trigger", "bail_condition", "failed_assessment"])
        where = ppo_borough(pid, day)
        if kind == "bail_condition":
            stream.detention(pid, day, "BA1976-s7", arrest_power=True)
            if where:
                facts.append((day, where, pid, "bail_arrest"))
        elif kind == "failed_assessment":
            d = stream.detention(pid, day, "DA2005-s12")
            stream.charge(pid, d, day, ["DA2005-s12"])
            charged_for_failing.append((pid, day))
            if where:
                facts.append((day, where, pid, "prosecution"))
                facts.append((day, where, pid, "non_trigger"))  # a non-trigger offence too, no inspector
        else:
            d = stream.detention(
                pid, day, "TA1968-s1" if kind == "trigger" else "CDA1971-s1", trigger=kind == "trigger"
            )
            decision = rng.choice(["authorised", "declined"]) if rng.random() < 0.5 else None
            if kind == "non_trigger" and decision:
                stream.inspector(pid, d, day, decision)
            if where and kind == "non_trigger":
                facts.append((day, where, pid, "non_trigger"))
                if decision:
                    facts.append((day, where, pid, decision))
    # 5.1.2: failures to attend notified, then charged, released with no further action, or still pending
    released_nfa: list[tuple[str, date]] = []
    failures: list[tuple[str, date]] = []
    for n in range(24):
        pid = rng.choice(list(register))
        day = date(2008, 1, 1) + timedelta(days=rng.randrange(0, 150))
        stream.attendance(pid, f"A-{unique}-{n}", "failed_to_attend", False, at(day, 9))
        failures.append((pid, day))
        then = day + timedelta(days=rng.randrange(0, 20))
        follow = rng.choice(["charged", "nfa", "pending"])
        if follow == "charged":
            d = stream.detention(pid, then, "DA2005-s12")
            stream.charge(pid, d, then, ["DA2005-s12"])
            charged_for_failing.append((pid, then))
            if (where := ppo_borough(pid, then)) is not None:
                facts.append((then, where, pid, "prosecution"))
                facts.append((then, where, pid, "non_trigger"))
        elif follow == "nfa":
            d = stream.detention(pid, then, "DA2005-s12")
            stream.release(pid, d, then)
            released_nfa.append((pid, then))
            if (where := ppo_borough(pid, then)) is not None:
                facts.append((then, where, pid, "non_trigger"))
    await stream.publish(infra.kafka_bootstrap)

    def followed(pid: str, day: date) -> str:
        """The rule, written again: a charge for failing from that day, else a no-further-action release."""
        if any(p == pid and d >= day for p, d in charged_for_failing):
            return "charged"
        if any(p == pid and d >= day for p, d in released_nfa):
            return "no_further_action"
        return "pending"

    def k1_expected(
        per: Granularity, first: date, last: date
    ) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """(period, borough) -> (PPO non-trigger arrests, decisions, authorised, different PPOs considered)."""
        counts: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, set()])
        for day, where, pid, what in facts:
            if not first <= day <= last or what not in ("non_trigger", "authorised", "declined"):
                continue
            for borough in (where, "metropolitan", "*"):  # the borough, its force, all
                c = counts[(period_of(day, per), borough)]
                c[0] += what == "non_trigger"
                if what != "non_trigger":
                    c[1] += 1
                    c[2] += what == "authorised"
                    c[3].add(pid)
        return {k: (a, d, au, len(people)) for k, (a, d, au, people) in counts.items()}

    analyst = bearer(Role.analyst, "*")
    window = {"from": "2008-01-01", "to": "2008-05-31"}

    def k1_seen(body: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        return {
            (r["period"], r["borough"]): (
                r["ppo_non_trigger_arrests"],
                r["inspector_decisions"],
                r["authorised"],
                r["ppos_considered"],
            )
            for r in body
        }

    expected_k1 = k1_expected(Granularity.month, date(2008, 1, 1), date(2008, 5, 31))
    got_k1 = await until_json(
        ppo, "/v1/measures/k1", window, analyst, lambda body: k1_seen(body) == expected_k1
    )
    for row in got_k1:
        arrests, decided, authorised, _ = expected_k1[(row["period"], row["borough"])]
        assert row["share"] == decided / arrests and row["declined"] == decided - authorised

    # Quarters and financial years: the 31 March / 1 April edge splits 2007/08 Q4 from 2008/09 Q1, and a
    # return counts whole periods (May's window reports the whole of Q1, to 30 June).
    for per, first, last in (
        (Granularity.quarter, date(2008, 1, 1), date(2008, 6, 30)),
        (Granularity.financial_year, date(2007, 4, 1), date(2009, 3, 31)),
    ):
        body = (await ppo.get("/v1/measures/k1", params={**window, "per": per}, headers=analyst)).json()
        assert k1_seen(body) == k1_expected(per, first, last), per

    k2_counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for day, where, _, what in facts:
        if what in ("prosecution", "bail_arrest") and day <= date(2008, 5, 31):
            k2_counts[(period_of(day, Granularity.month), where)][what == "bail_arrest"] += 1
    expected_k2 = {key: (v[0], v[1]) for key, v in k2_counts.items()}

    def k2_seen(body: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
        return {
            (r["period"], r["borough"]): (
                r["prosecuted_for_failing_to_attend"],
                r["arrested_for_breaking_bail_condition"],
            )
            for r in body
            if r["borough"] not in ("*", "metropolitan")
            and (r["prosecuted_for_failing_to_attend"] or r["arrested_for_breaking_bail_condition"])
        }

    await until_json(ppo, "/v1/measures/k2", window, analyst, lambda body: k2_seen(body) == expected_k2)

    after: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for pid, day in failures:
        if (where := ppo_borough(pid, day)) is None or day > date(2008, 5, 31):
            continue
        for borough in (where, "metropolitan", "*"):
            cell = after[(period_of(day, Granularity.month), borough)]
            cell[0] += 1
            cell[["charged", "no_further_action", "pending"].index(followed(pid, day)) + 1] += 1
    expected_after = {k: tuple(v) for k, v in after.items()}

    def after_seen(body: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, ...]]:
        keys = ("failures_notified", "failures_charged", "failures_no_further_action", "failures_pending")
        return {
            (r["period"], r["borough"]): tuple(r[k] for k in keys) for r in body if r["failures_notified"]
        }

    await until_json(ppo, "/v1/measures/k2", window, analyst, lambda body: after_seen(body) == expected_after)

    # Reproducible: replayed from the topics into a rebuilt read model, the same facts give the same measures.
    dsn = server_dsn(infra.postgres_dsn, f"ppo_{unique}")
    await replay(SPEC, dsn=dsn, bootstrap=infra.kafka_bootstrap, schema=f"replay_{unique}")
    conn = await asyncpg.connect(dsn)
    try:
        mine = f"L-{unique.upper()}-%"
        for table, key in (
            ("arrests", "detention_id"),
            ("charges", "detention_id"),
            ("assessment_failures", "event_id"),
        ):

            def rows_of(schema: str, table: str = table, key: str = key) -> str:
                return f"SELECT * FROM {schema}.{table} WHERE person_id LIKE $1 ORDER BY {key}"

            live = [dict(r) for r in await conn.fetch(rows_of("public"), mine)]
            rebuilt = [dict(r) for r in await conn.fetch(rows_of(f"replay_{unique}"), mine)]
            assert live == rebuilt and live, table
    finally:
        await conn.close()

    # K1's target is on the number of PPOs considered (5.1.1: "50% increase in all PPOs considered"), against a
    # baseline period taken pro rata; camden's is set by an analyst (audited), the others use ?baseline=.
    target = {"baseline_period": "2007/08 Q4", "increase": 0.5}
    set_target = await ppo.put("/v1/targets/k1/camden", json=target, headers=analyst)
    assert set_target.status_code == 200, set_target.text
    refused = await ppo.put(
        "/v1/targets/k1/camden", json=target, headers=bearer(Role.ppo_coordinator, "camden")
    )
    assert refused.status_code == 403
    q4 = k1_expected(Granularity.quarter, date(2008, 1, 1), date(2008, 3, 31))
    february = k1_expected(Granularity.month, date(2008, 2, 1), date(2008, 2, 29))
    with_baseline = (
        await ppo.get("/v1/measures/k1", params={**window, "baseline": "2008-02"}, headers=analyst)
    ).json()
    for row in with_baseline:
        camden = row["borough"] == "camden"
        period, considered = ("2007/08 Q4", q4) if camden else ("2008-02", february)
        assert row["baseline_period"] == period
        base = considered.get(("2007/08 Q4" if camden else "2008-02", row["borough"]))
        if base is None or not base[0]:
            assert row["baseline_ppos_considered"] is None and row["target_met"] is None
            continue
        pro_rata = base[3] / 3 if camden else base[3]
        assert row["baseline_ppos_considered"] == pytest.approx(pro_rata)
        if not pro_rata:  # nobody considered in the baseline: no target, a rise on nothing is not measured
            assert row["target_ppos_considered"] is None and row["target_met"] is None
            continue
        assert row["target_ppos_considered"] == pytest.approx(pro_rata * 1.5)
        assert row["target_met"] == (row["ppos_considered"] >= pro_rata * 1.5)
    listed = (await ppo.get("/v1/targets/k1", headers=analyst)).json()
    assert {"measure": "k1", "borough": "camden", **target} in listed

    # The files hold exactly the API's numbers (read back with the library that wrote them).
    for per in (Granularity.month, Granularity.quarter):
        params = {**window, "per": per, "baseline": "2008-02"}
        body = (await ppo.get("/v1/measures/k1", params=params, headers=analyst)).json()
        as_csv = await ppo.get("/v1/measures/k1", params={**params, "format": "csv"}, headers=analyst)
        assert as_csv.headers["content-type"].startswith("text/csv")
        from_csv = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [(r["period"], r["borough"], int(r["ppos_considered"])) for r in from_csv] == [
            (r["period"], r["borough"], r["ppos_considered"]) for r in body
        ]
        as_xlsx = await ppo.get("/v1/measures/k1", params={**params, "format": "xlsx"}, headers=analyst)
        assert as_xlsx.headers["content-disposition"].endswith('.xlsx"')
        sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
        assert sheet is not None
        cells = [[c.value for c in line] for line in sheet.iter_rows(min_row=3, max_row=2 + len(body))]
        assert [(c[0], c[1], c[2], c[3]) for c in cells] == [
            (r["period"], r["borough"], r["ppos_considered"], r["inspector_decisions"]) for r in body
        ]
        assert any("5.1.1" in str(line[0].value) for line in sheet.iter_rows())  # the definitions are on it

    camden_only = (
        await ppo.get("/v1/measures/k1", params=window, headers=bearer(Role.analyst, "camden"))
    ).json()
    assert {r["borough"] for r in camden_only} <= {"camden"}
    force = (
        await ppo.get("/v1/measures/k1", params=window, headers=bearer(Role.analyst, "metropolitan"))
    ).json()
    assert {r["borough"] for r in force} == {"camden", "brent", "metropolitan"}  # the force's row, not "*"
    assert "person_id" not in str(camden_only)

"""P2 and P3 against real Kafka and PostgreSQL: the tested-positive list follows a stream of custody results
(JSON and CSV, by borough, as of a date); a person who keeps testing positive and fails an assessment is
flagged for the panel with the evidence."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from dipflow.auth import Role
from dipflow.db import connect_pool
from dipflow.db.database import server_dsn
from dipflow.events.consumer import Parsed, apply_events
from dipflow.uow import Producer
from dipflow_ppo_register.contracts.consumed import CONSUMED
from dipflow_ppo_register.service_layer.projections import event_handler
from dipflow_ppo_register.settings import PpoRegisterSettings
from tests.infra import Infra
from tests.integration.ppo.custody_stream import Stream
from tests.integration.ppo.test_register_api import add_body, bearer, ppo
from tests.integration.test_event_backbone import eventually

__all__ = ["ppo"]


def people(unique: str, *tags: str) -> list[str]:
    return [f"L-{unique.upper()}-{t}" for t in tags]


def three_positives(s: Stream, person_id: str) -> list[str]:
    """Three trigger-offence detentions in 2008 (January, February, March), each positive for opiates."""
    detentions = []
    for day in (date(2008, 1, 10), date(2008, 2, 14), date(2008, 3, 20)):
        detentions.append(s.detention(person_id, day, "TA1968-s1", trigger=True))
        s.positive(person_id, detentions[-1], day, "opiates")
    return detentions


async def until_json(
    ppo: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    ready: Callable[[Any], bool],
    timeout_s: float = 30,
) -> Any:
    latest: list[Any] = [None]

    async def check() -> bool:
        answer = await ppo.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        latest[0] = answer.json()
        return ready(latest[0])

    try:
        await eventually(check, timeout_s=timeout_s)
    except TimeoutError:
        raise AssertionError(f"{path} {params} never became ready; last answer {latest[0]}") from None
    return latest[0]


async def test_p2_the_tested_positive_list_follows_custody_results_as_they_arrive(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    a, b, c, d = people(unique, "A", "B", "C", "D")
    admin = bearer(Role.admin, "*")
    for pid, borough in ((a, "camden"), (b, "camden"), (c, "brent")):
        answer = await ppo.post(
            "/v1/register", json=add_body(pid, borough=borough, start="2007-06-01"), headers=admin
        )
        assert answer.status_code == 201
    s = Stream()
    d1 = s.detention(a, date(2008, 3, 1), "TA1968-s1", trigger=True)
    s.positive(a, d1, date(2008, 3, 1), "cocaine")
    s.positive(a, d1, date(2008, 3, 1), "opiates")
    b1 = s.detention(b, date(2008, 4, 1), "TA1968-s1", trigger=True)
    s.positive(b, b1, date(2008, 4, 1))
    s.confirmed_negative(b, b1, date(2008, 4, 9))  # void: not a positive any more (T12, A6)
    c1 = s.detention(c, date(2008, 4, 2), "TA1968-s1", trigger=True)
    s.positive(c, c1, date(2008, 4, 2))
    n1 = s.detention(d, date(2008, 4, 3), "TA1968-s1", trigger=True)  # not a PPO
    s.positive(d, n1, date(2008, 4, 3))
    await s.publish(infra.kafka_bootstrap)

    coordinator = bearer()
    params = {"borough": "camden", "as_of": "2008-06-01"}
    expected = [(a, "2008-03-01", ["cocaine", "opiates"], 1)]

    def summary(body: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (x["person_id"], x["last_positive_on"], x["last_drugs"], x["positives_in_12_months"])
            for x in body
        ]

    # B's positive and its void, and A's second drug, may still be in flight: wait for the settled list.
    first = await until_json(
        ppo, "/v1/tested-positive", params, coordinator, lambda body: summary(body) == expected
    )
    assert summary(first) == expected

    d2 = s.detention(a, date(2008, 5, 10), "TA1968-s1", trigger=True)
    s.positive(a, d2, date(2008, 5, 10), "cocaine")
    b2 = s.detention(b, date(2008, 5, 20), "TA1968-s1", trigger=True)
    s.positive(b, b2, date(2008, 5, 20), "opiates")  # after B's void result on the same partition
    await s.publish(infra.kafka_bootstrap)
    later = await until_json(
        ppo,
        "/v1/tested-positive",
        params,
        coordinator,
        lambda body: len(body) == 2 and body[1]["positives_in_12_months"] == 2,
    )
    assert [
        (x["person_id"], x["last_positive_on"], x["last_drugs"], x["positives_in_12_months"], x["rule_ids"])
        for x in later
    ] == [
        (b, "2008-05-20", ["opiates"], 1, ["P2"]),
        (a, "2008-05-10", ["cocaine"], 2, ["P2"]),
    ]

    as_of_april = (
        await ppo.get("/v1/tested-positive", params={**params, "as_of": "2008-04-15"}, headers=coordinator)
    ).json()
    assert [(x["person_id"], x["positives_in_12_months"]) for x in as_of_april] == [(a, 1)]

    exported = await ppo.get("/v1/tested-positive", params={**params, "format": "csv"}, headers=coordinator)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["person_id"], r["last_drugs"], r["positives_in_12_months"]) for r in rows] == [
        (x["person_id"], ";".join(x["last_drugs"]), str(x["positives_in_12_months"])) for x in later
    ]

    brent = await until_json(  # C's results are on another partition: they may still be on their way
        ppo,
        "/v1/tested-positive",
        {"borough": "brent", "as_of": "2008-06-01"},
        bearer(area="brent"),
        lambda body: len(body) > 0,
    )
    assert [x["person_id"] for x in brent] == [c]
    denied = await ppo.get("/v1/tested-positive", params=params, headers=bearer(area="brent"))
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"
    assert (
        await ppo.get("/v1/tested-positive", params=params, headers=bearer(Role.analyst, "camden"))
    ).status_code == 403


async def test_p3_repeated_positives_and_a_failed_assessment_flag_a_non_ppo_for_the_panel(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    (e,) = people(unique, "E")
    s = Stream()
    detentions = three_positives(s, e)
    await s.publish(infra.kafka_bootstrap)
    coordinator = bearer()
    # raised on 28 March, not 25 March: a failure with good cause (A4) is not a failure to comply
    failures = [("A-1", True, 25), ("A-2", False, 28)]
    for assessment, good_cause, day_of_march in failures:
        s.attendance(
            e, assessment, "failed_to_attend", good_cause, datetime(2008, 3, day_of_march, 10, tzinfo=UTC)
        )
    await s.publish(infra.kafka_bootstrap)

    flags = await until_json(
        ppo,
        "/v1/panel-flags",
        {"borough": "camden"},
        coordinator,
        lambda body: any(f["person_id"] == e for f in body),
    )
    flag = next(f for f in flags if f["person_id"] == e)
    assert flag["rule_ids"] == ["P3"] and flag["raised_on"] == "2008-03-28"
    assert [t["detention_id"] for t in flag["evidence"]["positive_tests"]] == detentions
    assert [f["assessment_id"] for f in flag["evidence"]["failed_assessments"]] == ["A-2"]

    reviewed = await ppo.post(
        f"/v1/panel-flags/{flag['id']}/review", json={"outcome": "added_to_register"}, headers=coordinator
    )
    assert reviewed.status_code == 200 and reviewed.json()["review_outcome"] == "added_to_register"
    again = await ppo.post(
        f"/v1/panel-flags/{flag['id']}/review", json={"outcome": "not_selected"}, headers=coordinator
    )
    assert again.status_code == 409
    assert (
        await ppo.get("/v1/panel-flags", params={"borough": "camden"}, headers=bearer(Role.analyst, "camden"))
    ).status_code == 403
    open_now = (await ppo.get("/v1/panel-flags", params={"borough": "camden"}, headers=coordinator)).json()
    assert e not in [f["person_id"] for f in open_now]


async def test_p3_a_batch_re_checks_a_persons_panel_flag_once_at_its_end(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """Three positives and two failures of one person in one batch: one flag, raised on the day P3 first held,
    and the person's history read once for the batch (after each of the five events before)."""
    (f,) = people(unique, "F")
    s = Stream()
    detentions = three_positives(s, f)
    for assessment, day_of_march in (("A-1", 28), ("A-2", 30)):
        when = datetime(2008, 3, day_of_march, 10, tzinfo=UTC)
        s.attendance(f, assessment, "failed_to_attend", False, when)
    batch = [
        Parsed(ConsumerRecord(topic, 0, n, 0, 0, None, raw, None, 0, 0, ()), *CONSUMED.parse(raw))
        for n, (topic, _, raw) in enumerate(s.records)
    ]
    handler = event_handler(panel_threshold=PpoRegisterSettings().positives_for_panel_flag)
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"ppo_{unique}"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            applied, _ = await apply_events(conn, f"t-{unique}", batch, handler, Producer("ppo", "x"))
            reads = await conn.fetchval(
                "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
                "WHERE relname = 'panel_flags'"
            )
        flags = await pool.fetch("SELECT raised_on, evidence FROM panel_flags WHERE person_id = $1", f)
    finally:
        await pool.close()
    assert applied == len(batch)
    assert reads == 1
    assert [r["raised_on"] for r in flags] == [date(2008, 3, 28)]
    assert [t["detention_id"] for t in flags[0]["evidence"]["positive_tests"]] == detentions
    assert [x["assessment_id"] for x in flags[0]["evidence"]["failed_assessments"]] == ["A-1"]

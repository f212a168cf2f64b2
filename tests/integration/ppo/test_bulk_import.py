"""P1 bulk import through the API against real PostgreSQL and Kafka: a file with bad rows is rejected with
line-level reasons and imports nothing; the good rows go in when asked; the same file again changes nothing."""

from __future__ import annotations

import httpx

from dipflow.auth import Role
from tests.infra import Infra
from tests.integration.ppo.test_register_api import add_body, bearer, ppo, topic_records

__all__ = ["ppo"]

CSV = {"Content-Type": "text/csv"}


def csv_file(unique: str) -> tuple[str, list[str]]:
    ids = [f"L-{unique.upper()}-{n}" for n in range(1, 6)]
    text = (
        "person_id,borough,strand,start_date,end_date,reason\n"
        f"{ids[0]},camden,Catch & Convict,07/01/2008,,January panel\n"
        f"{ids[1]},camden,Prevent & Deter,2008-01-07,2008-06-30,deselected in June\n"
        f"{ids[2]},camden,Sometimes,2008-01-07,,\n"
        f"{ids[3]},brent,R&R,2008-01-07,,\n"
        f"{ids[4]},camden,R&R,2008-02-30,,\n"
    )
    return text, ids


async def test_a_file_with_bad_rows_imports_nothing_and_says_which_lines_and_why(
    ppo: httpx.AsyncClient, unique: str
) -> None:
    text, ids = csv_file(unique)
    answer = await ppo.post("/v1/register/import", content=text, headers={**bearer(), **CSV})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert [(e["line"], e["field"]) for e in problem["errors"]] == [
        (4, "strand"),
        (5, "borough"),
        (6, "start_date"),
    ]
    assert "outside the areas you cover" in problem["errors"][1]["reason"]
    for pid in ids[:2]:
        assert (await ppo.get(f"/v1/register/{pid}/history", headers=bearer())).json() == []


async def test_good_rows_are_imported_when_asked_and_a_reimport_changes_nothing(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    text, ids = csv_file(unique)
    coordinator = {**bearer(), **CSV}
    first = await ppo.post(
        "/v1/register/import", params={"import_good_rows": "true"}, content=text, headers=coordinator
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["added"], body["ended"], body["unchanged"]) == (2, 1, 0)
    assert [(s["line"], s["field"]) for s in body["skipped"]] == [
        (4, "strand"),
        (5, "borough"),
        (6, "start_date"),
    ]
    history = (await ppo.get(f"/v1/register/{ids[1]}/history", headers=bearer())).json()
    assert [(h["strand"], h["start_date"], h["end_date"]) for h in history] == [
        ("prevent_and_deter", "2008-01-07", "2008-06-30")
    ]

    again = await ppo.post(
        "/v1/register/import", params={"import_good_rows": "true"}, content=text, headers=coordinator
    )
    assert again.status_code == 200
    assert (again.json()["added"], again.json()["ended"], again.json()["unchanged"]) == (0, 0, 2)

    # The compacted topic carries the first import only: status for both, then the tombstone for the ended one.
    # A marker added afterwards is published after anything the re-import could have written.
    marker = f"L-{unique.upper()}-M"
    assert (await ppo.post("/v1/register", json=add_body(marker), headers=bearer())).status_code == 201
    records = await topic_records(infra, {*ids[:2], marker}, 4)
    per_key = {k: [r is None for kk, r in records if kk == k] for k in (*ids[:2], marker)}
    assert per_key == {ids[0]: [False], ids[1]: [False, True], marker: [False]}


async def test_a_coordinator_may_not_end_a_period_in_another_borough_by_file(
    ppo: httpx.AsyncClient, unique: str
) -> None:
    pid = f"L-{unique.upper()}-Z"
    assert (
        await ppo.post("/v1/register", json=add_body(pid, borough="brent"), headers=bearer(Role.admin, "*"))
    ).status_code == 201
    text = (
        f"person_id,borough,strand,start_date,end_date\n{pid},brent,catch_and_convict,2008-01-07,2008-05-01\n"
    )
    answer = await ppo.post("/v1/register/import", content=text, headers={**bearer(), **CSV})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "borough"
    assert (
        await ppo.post("/v1/register/import", content=text, headers={**bearer(Role.analyst, "camden"), **CSV})
    ).status_code == 403

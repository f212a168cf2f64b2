"""Reference data a force runs itself (T1, T2, T14): areas, suites, notifications, offences and drugs changed by
admins through the API and CSV, with history, published on reference.v1; every offence accepted."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from dipflow.auth import Principal, Role
from dipflow.db import connect_pool, server_dsn
from dipflow.db.appends import Writes
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import REFERENCE
from dipflow.uow import Producer, UnitOfWork
from dipflow_custody.adapters import reference
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod
from tests.infra import Infra
from tests.integration.custody.test_custody_api import bearer, book_in_body, custody, events_for, person

__all__ = ["custody"]

ADMIN = bearer(Role.admin, "*")
PRODUCER = Producer("custody", "custody.events.v1")
WAITING_FOR_A_LOCK = """
SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted
"""


def bearer_principal(area: str) -> Principal:
    """Who a custody officer's token for ``area`` is, as this process's access checks see it."""
    return Principal(subject="officer", role=Role.custody_officer, area=area)


def booking(pid: str, suite: str, day: str, offence: dict[str, Any], home: str = "lambeth") -> dict[str, Any]:
    return {
        **book_in_body(pid, 30),
        "suite": suite,
        "home_area": home,
        "arrested_at": f"{day}T10:00:00Z",
        "booked_in_at": f"{day}T10:10:00Z",
        "offences": [{"offence_date": day, **offence}],
    }


async def reference_record(infra: Infra, key: str, want: Any, timeout_s: float = 30) -> dict[str, Any]:
    """The latest record on reference.v1 for ``key`` that ``want`` accepts."""
    consumer = AIOKafkaConsumer(
        REFERENCE.name,
        **kafka_consumer_options(infra.kafka_bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        if r.key == key.encode() and r.value is not None:
                            payload: dict[str, Any] = orjson.loads(r.value)["payload"]
                            if want(payload):
                                return payload
    finally:
        await consumer.stop()


async def test_t1_a_new_borough_goes_live_by_data_alone_from_the_date_of_its_notification(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    force, borough, suite = f"dipshire-{unique}", f"north-{unique}", f"DIP-{unique.upper()}"
    area = {"code": force, "name": "Dipshire Police", "kind": "force"}
    assert (await custody.post("/v1/areas", json=area, headers=bearer(Role.inspector))).status_code == 403
    assert (await custody.post("/v1/areas", json=area, headers=ADMIN)).status_code == 201
    added = await custody.post(
        "/v1/areas", json={"code": borough, "name": "North", "kind": "borough", "force": force}, headers=ADMIN
    )
    assert added.status_code == 201, added.text
    created = await custody.post(
        "/v1/suites",
        json={
            "code": suite,
            "name": "North custody",
            "force": force,
            "borough": borough,
            "address": "1 High St",
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    notice = {"place": suite, "kind": "testing_on_arrest", "valid_from": "2009-04-01"}
    assert (await custody.post("/v1/notifications", json=notice, headers=ADMIN)).status_code == 201

    officer = bearer(Role.custody_officer, force)  # a token for the new force covers its new borough
    theft = {"code": "TA1968-s1"}
    before = await custody.post(
        "/v1/detentions", json=booking(person(unique, 1), suite, "2009-03-31", theft), headers=officer
    )
    on = await custody.post(
        "/v1/detentions", json=booking(person(unique, 2), suite, "2009-04-01", theft), headers=officer
    )
    assert before.status_code == on.status_code == 201, (before.text, on.text)
    assert (before.json()["decision"]["outcome"], on.json()["decision"]["outcome"]) == (
        "not_allowed",
        "required",
    )
    booked = await events_for(infra, person(unique, 2), 1)
    assert booked[0]["payload"]["suite_area"] == borough

    record = await reference_record(infra, f"suite:{suite}", lambda p: bool(p["notifications"]))
    assert record["versions"][-1]["borough"] == borough
    assert record["notifications"] == [
        {"kind": "testing_on_arrest", "valid_from": "2009-04-01", "valid_to": None}
    ]
    suites = (await custody.get("/v1/suites", headers=bearer())).json()
    assert {"code": suite, "borough": borough}.items() <= next(
        s for s in suites if s["code"] == suite
    ).items()


async def test_a_suite_that_moves_borough_keeps_the_old_borough_for_earlier_detentions(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    suite = f"MET-MOVE-{unique.upper()}"
    first = {"code": suite, "name": "Moving suite", "force": "metropolitan", "borough": "lambeth"}
    assert (
        await custody.post("/v1/suites", json={**first, "effective_from": "2008-01-01"}, headers=ADMIN)
    ).is_success
    moved = await custody.post(
        "/v1/suites", json={**first, "borough": "southwark", "effective_from": "2009-01-01"}, headers=ADMIN
    )
    assert moved.status_code == 201, moved.text
    theft = {"code": "TA1968-s1"}
    dids = []
    for n, day in ((1, "2008-12-31"), (2, "2009-01-01")):
        made = await custody.post(
            "/v1/detentions", json=booking(person(unique, n), suite, day, theft), headers=bearer()
        )
        assert made.status_code == 201, made.text
        dids.append(made.json()["detention_id"])
    areas = [(await events_for(infra, person(unique, n), 1))[0]["payload"]["suite_area"] for n in (1, 2)]
    assert areas == ["lambeth", "southwark"]
    history = (await custody.get(f"/v1/suites/{suite}/history", headers=bearer())).json()
    assert [(v["effective_from"], v["record"]["borough"]) for v in history] == [
        ("2008-01-01", "lambeth"),
        ("2009-01-01", "southwark"),
    ]
    # a lambeth officer still acts on the detention booked while the suite was in lambeth, not on the later one
    lambeth = bearer(Role.custody_officer, "lambeth")
    reads = [(await custody.get(f"/v1/detentions/{did}", headers=lambeth)).status_code for did in dids]
    assert reads == [200, 403]


async def test_t1_an_offence_outside_the_catalogue_is_accepted_as_given_and_listed_for_admins(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    given = {
        "statute": "Ancient Monuments and Archaeological Areas Act 1979",
        "section": "s 28 (1)",
        "wording": "damaging a protected monument",
        "system_code": f"AM-{unique}",
    }
    made = await custody.post(
        "/v1/detentions", json=booking(person(unique), "MET-BRIXTON", "2009-05-05", given), headers=bearer()
    )
    assert made.status_code == 201, made.text
    offence = made.json()["offences"][0]
    assert (offence["in_catalogue"], offence["section"], offence["code"]) == (
        False,
        "s.28(1)",
        f"AM-{unique}",
    )
    assert made.json()["decision"]["outcome"] == "needs_authorisation"  # no trigger offence
    added = (await events_for(infra, person(unique), 2))[1]["payload"]
    assert (added["trigger_offence"], added["in_catalogue"], added["statute"]) == (
        False,
        False,
        given["statute"],
    )

    listed = await custody.get("/v1/offence-codes/unclassified", headers=ADMIN)
    assert listed.status_code == 200
    assert any(u["section"] == "s.28(1)" and f"AM-{unique}" in u["system_codes"] for u in listed.json())
    assert (await custody.get("/v1/offence-codes/unclassified", headers=bearer())).status_code == 403

    code = {
        "code": "AMAAA1979-s28(1)",
        "statute": given["statute"],
        "section": "s.28(1)",
        "title": "damaging a protected monument",
        "category": "criminal damage and arson",
    }
    assert (await custody.post("/v1/offence-codes", json=code, headers=ADMIN)).status_code == 201
    after = (await custody.get("/v1/offence-codes/unclassified", headers=ADMIN)).json()
    assert not any(u["section"] == "s.28(1)" and u["statute"] == given["statute"] for u in after)
    again = await custody.post(
        "/v1/detentions",
        json=booking(person(unique, 2), "MET-BRIXTON", "2009-05-06", given),
        headers=bearer(),
    )
    assert again.json()["offences"][0]["in_catalogue"] is True
    assert again.json()["offences"][0]["code"] == "AMAAA1979-s28(1)"


async def test_an_offence_import_with_a_bad_row_imports_nothing_and_names_each_bad_row(
    custody: httpx.AsyncClient, unique: str
) -> None:
    before = len((await custody.get("/v1/offence-codes", headers=bearer())).json())
    assert before >= 200
    bad = (
        "code,statute,section,title,category\n"
        f"X{unique}-1,Fictional Act 2001,s.3,making things up,other\n"
        f"X{unique}-2,Fictional Act 2001,s.x,bad section,other\n"
        f"X{unique}-3,Fictional Act 2001,s.4,,other\n"
        f"X{unique}-4,Theft Act 1968,s.1,theft again,theft and handling\n"
        f"X{unique}-5,Fictional Act 2001,s.5,a thing,no such category\n"
    )
    refused = await custody.post(
        "/v1/reference-imports/offences",
        content=bad,
        headers={**ADMIN, "content-type": "text/csv"},
    )
    assert refused.status_code == 422, refused.text
    assert [(e["line"], e["field"]) for e in refused.json()["errors"]] == [
        (3, "section"),
        (4, "title"),
        (5, "section"),
        (6, "category"),
    ]
    assert len((await custody.get("/v1/offence-codes", headers=bearer())).json()) == before
    good = "code,statute,section,title\n" + f"X{unique}-1,Fictional Act 2001,s.3,making things up\n"
    imported = await custody.post(
        "/v1/reference-imports/offences", content=good, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert imported.status_code == 200 and imported.json()["rows"] == 1
    assert len((await custody.get("/v1/offence-codes", headers=bearer())).json()) == before + 1


async def test_t1_the_process_that_answered_an_area_added_covers_it_for_its_force_from_that_answer(
    custody: httpx.AsyncClient, unique: str
) -> None:
    """A force's token covers a borough from the moment custody answers its addition (one by one, or by CSV),
    not only once the process has heard of the change by NOTIFY: the next request may be the booking."""
    force, borough, imported = f"westshire-{unique}", f"west-{unique}", f"south-{unique}"
    for area in (
        {"code": force, "name": "Westshire Police", "kind": "force"},
        {"code": borough, "name": "West", "kind": "borough", "force": force},
    ):
        assert (await custody.post("/v1/areas", json=area, headers=ADMIN)).status_code == 201
    assert bearer_principal(force).covers(borough)
    rows = f"code,name,kind,force\n{imported},South,borough,{force}\n"
    ok = await custody.post(
        "/v1/reference-imports/areas", content=rows, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert ok.status_code == 200, ok.text
    assert bearer_principal(force).covers(imported)


async def test_areas_suites_and_notifications_import_all_rows_or_none(
    custody: httpx.AsyncClient, unique: str
) -> None:
    force, borough = f"eastshire-{unique}", f"east-{unique}"
    areas = (
        "code,name,kind,force\n"
        f"{force},Eastshire Police,force,\n"
        f"{borough},East,borough,{force}\n"
        f"west-{unique},West,borough,no-such-force-{unique}\n"
    )
    refused = await custody.post(
        "/v1/reference-imports/areas", content=areas, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert refused.status_code == 422
    assert [(e["line"], e["field"]) for e in refused.json()["errors"]] == [(4, "force")]
    codes = {a["code"] for a in (await custody.get("/v1/areas", headers=bearer())).json()}
    assert force not in codes  # the good rows of a bad file were not kept
    fixed = areas.replace(f"no-such-force-{unique}", force)
    ok = await custody.post(
        "/v1/reference-imports/areas", content=fixed, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert ok.status_code == 200 and ok.json()["rows"] == 3
    suites = f"code,name,force,borough\nEAST-{unique.upper()},East suite,{force},{borough}\n"
    ok = await custody.post(
        "/v1/reference-imports/suites", content=suites, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert ok.status_code == 200, ok.text
    notices = (
        "place,kind,valid_from,valid_to\n"
        f"EAST-{unique.upper()},testing_on_arrest,2010-01-01,\n"
        f"{borough},initial_assessment,2010-01-01,2009-01-01\n"
        f"nowhere-{unique},initial_assessment,2010-01-01,\n"
    )
    refused = await custody.post(
        "/v1/reference-imports/notifications", content=notices, headers={**ADMIN, "content-type": "text/csv"}
    )
    assert refused.status_code == 422
    assert [(e["line"], e["field"]) for e in refused.json()["errors"]] == [(3, "valid_to"), (4, "place")]
    listed = await custody.get(
        "/v1/notifications", params={"place": f"EAST-{unique.upper()}"}, headers=bearer()
    )
    assert listed.json() == []


async def test_t14_a_drug_the_vocabulary_gains_counts_from_the_day_it_is_specified(
    custody: httpx.AsyncClient, unique: str
) -> None:
    name = f"testazene{unique}"
    drug = {
        "name": name,
        "synonyms": [f"tz{unique}"],
        "classes": [{"class": "A", "from": "2001-01-01"}],
        "specified": [{"from": "2009-06-01"}],
    }
    assert (await custody.post("/v1/drugs", json=drug, headers=bearer())).status_code == 403
    assert (await custody.post("/v1/drugs", json=drug, headers=ADMIN)).status_code == 201
    bad = {**drug, "name": f"x{unique}", "synonyms": [], "classes": [{"class": "B", "from": "2001-01-01"}]}
    refused = await custody.post("/v1/drugs", json=bad, headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "specified.0.from"

    async def positive(n: int, day: str) -> httpx.Response:
        made = await custody.post(
            "/v1/detentions",
            json=booking(person(unique, n), "MET-BRIXTON", day, {"code": "TA1968-s1"}),
            headers=bearer(),
        )
        did = made.json()["detention_id"]
        for action, body in (("warning", {"at": f"{day}T10:20:00Z"}), ("sample", {"at": f"{day}T10:30:00Z"})):
            assert (
                await custody.post(f"/v1/detentions/{did}/{action}", json=body, headers=bearer())
            ).is_success
        result = {"drug": f"TZ{unique}", "result": "positive", "at": f"{day}T11:00:00Z"}
        return await custody.post(f"/v1/detentions/{did}/results", json=result, headers=bearer())

    early, on_day = await positive(1, "2009-05-31"), await positive(2, "2009-06-01")
    assert early.status_code == 409 and early.json()["rule_id"] == "T14"
    assert on_day.status_code == 200, on_day.text


async def test_t4_a_ppo_arrested_for_an_offence_outside_the_catalogue_goes_to_an_inspector(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    from datetime import UTC, date, datetime

    from aiokafka import AIOKafkaProducer

    from dipflow.events import new_envelope
    from dipflow.topics import PPO_REGISTER
    from dipflow_ppo_register.contracts.events import PpoStatus, Strand
    from tests.integration.custody.test_custody_scenarios import _until_local_register

    pid = person(unique)
    status = new_envelope(
        PpoStatus(borough="lambeth", strand=Strand.catch_and_convict, start_date=date(2007, 4, 1)),
        person_id=pid,
        producer="ppo-register",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(**kafka_options(infra.kafka_bootstrap))
    await producer.start()
    await producer.send_and_wait(PPO_REGISTER.name, status.to_bytes(), key=status.key)
    await producer.stop()
    await _until_local_register(infra, unique, pid, present=True)

    given = {
        "statute": "Licensing Act 2003",
        "section": "s.141",
        "wording": "selling alcohol to a drunk person",
    }
    booked = await custody.post(
        "/v1/detentions", json=booking(pid, "MET-BRIXTON", "2009-05-05", given), headers=bearer()
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["offences"][0]["in_catalogue"] is False
    assert "T4" in booked.json()["decision"]["rule_ids"]
    items = await custody.get(
        "/v1/open-items", params={"suite": "MET-BRIXTON"}, headers=bearer(Role.inspector)
    )
    assert any(
        i["detention_id"] == booked.json()["detention_id"] and i["kind"] == "inspector_decision_requested"
        for i in items.json()
    )


async def test_t1_reference_changes_take_turns_so_versions_follow_commits(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """The catalogue in force is reloaded when the data's version (its highest record id) moves. Were two
    changes to commit out of id order, a reader between the commits would install a catalogue at the higher
    version without the lower change, and keep it until the next change; so a second change waits for the
    first to commit, and takes the next number after it."""
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=3, max_size=3)
    body: dict[str, Any] = {"synonyms": [], "classes": [], "specified": []}

    async def change(conn: asyncpg.Connection, name: str) -> int:
        version: int = await reference.record(
            UnitOfWork(Writes(conn), PRODUCER), "drug", name, date(2020, 1, 1), body, "t"
        )
        return version

    async def second_change() -> int:
        async with pool.acquire() as conn, conn.transaction():
            return await change(conn, f"second-{unique}")

    try:
        async with pool.acquire() as conn, conn.transaction():
            first = await change(conn, f"first-{unique}")
            second = asyncio.create_task(second_change())
            while not await pool.fetchval(WAITING_FOR_A_LOCK):
                assert not second.done(), "the second change did not wait for the first"
                await asyncio.sleep(0.01)
        assert await second > first
    finally:
        await pool.close()


async def test_reference_data_is_read_again_only_when_its_stamp_moves(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """A unit of work reads the reference data's stamp and takes what an earlier one read under the same stamp;
    a change committed by anyone (the service, or an operator's own SQL: counted by a trigger) moves the stamp,
    and a change rolled back leaves nothing behind, though the next change to commit takes the same count."""
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"custody_{unique}"), min_size=1, max_size=1)
    place, day = f"place-{unique}", date(2026, 6, 1)
    initial, follow_up = NotificationKind.initial_assessment, NotificationKind.follow_up_assessment

    async def read(statements: list[str] | None = None) -> frozenset[NotificationKind]:
        async with pool.acquire() as conn, conn.transaction():
            if statements is not None:
                conn.add_query_logger(lambda q: statements.append(q.query))
            uow = UnitOfWork(Writes(conn), PRODUCER)
            await reference.histories(uow, "suite")
            kinds: frozenset[NotificationKind] = (await reference.notified(uow, place, day)).kinds
            await reference.version(uow)
            return kinds

    try:
        await pool.execute(
            "INSERT INTO notifications (place, kind, valid_from) VALUES ($1, $2, '2026-01-01')",
            place,
            str(initial),
        )
        assert await read() == {initial}
        statements: list[str] = []
        assert await read(statements) == {initial}
        reads = [q for q in statements if q not in ("BEGIN;", "COMMIT;")]
        assert len(reads) == 1 and "reference_changes" in reads[0], statements

        await pool.execute("UPDATE notifications SET valid_to = '2026-05-31' WHERE place = $1", place)
        assert await read() == frozenset()

        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            uow = UnitOfWork(Writes(conn), PRODUCER)
            added = NotificationPeriod(place, initial, date(2026, 6, 1))
            assert await reference.add_notification(uow, added, "t") is not None
            assert (await reference.notified(uow, place, day)).kinds == {initial}  # its own change
            await transaction.rollback()
        await pool.execute(
            "INSERT INTO notifications (place, kind, valid_from) VALUES ($1, $2, '2026-06-01')",
            place,
            str(follow_up),
        )
        assert await read() == {follow_up}
    finally:
        await pool.close()

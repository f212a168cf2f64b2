"""The rules about time and the custody record, through the custody API and the command topic against real
PostgreSQL and Kafka, on both sides of each boundary: T3, T7, T9, T10, T12, T14, and the facts of a command
recorded at their own time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from dipflow.auth import Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.kafka.connection import kafka_consumer_options
from dipflow_custody.contracts.bodies import BookIn
from dipflow_custody.contracts.inbound import BookInCommand, DetentionCommand, detention_id_for
from tests.infra import Infra
from tests.integration.custody.test_custody_api import (
    SECRET,
    TOPIC,
    bearer,
    book_in_body,
    custody,
    events_for,
    person,
)
from tests.integration.custody.test_custody_commands import command, dead_letters_for, send

__all__ = ["custody"]

MINUTE = timedelta(minutes=1)


def officer(subject: str, role: Role = Role.custody_officer) -> dict[str, str]:
    token = mint_token(SECRET, subject=subject, role=role, area="metropolitan")
    return {"Authorization": f"Bearer {token}"}


def booking(pid: str, booked: datetime, *codes: str) -> dict[str, Any]:
    day = booked.date().isoformat()
    return {
        **book_in_body(pid),
        "arrested_at": (booked - timedelta(minutes=20)).isoformat(),
        "booked_in_at": booked.isoformat(),
        "offences": [{"code": code, "offence_date": day} for code in codes or ("TA1968-s1",)],
    }


async def booked_in(client: httpx.AsyncClient, pid: str, booked: datetime, *codes: str) -> str:
    answer = await client.post("/v1/detentions", json=booking(pid, booked, *codes), headers=bearer())
    assert answer.status_code == 201, answer.text
    did: str = answer.json()["detention_id"]
    return did


async def post(
    client: httpx.AsyncClient, did: str, action: str, body: dict[str, Any], **kw: Any
) -> httpx.Response:
    return await client.post(f"/v1/detentions/{did}/{action}", json=body, headers=kw.get("headers", bearer()))


def at(t: datetime) -> dict[str, str]:
    return {"at": t.isoformat()}


# -- T7 -------------------------------------------------------------------------------------------------------


async def test_t7_no_sample_before_the_person_was_booked_in(custody: httpx.AsyncClient, unique: str) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    did = await booked_in(custody, person(unique), booked)
    await post(custody, did, "warning", at(booked - 2 * MINUTE))
    early = await post(custody, did, "sample", at(booked - MINUTE))
    assert early.status_code == 409 and early.json()["rule_id"] == "T7"
    on_time = await post(custody, did, "sample", at(booked))
    assert on_time.status_code == 200 and on_time.json()["sample_taken_at"] == booked.isoformat().replace(
        "+00:00", "Z"
    )


# -- T10: judged on when the sample was taken, never on the timer ---------------------------------------------


async def test_t10_before_charge_the_minute_before_and_after_24_hours(
    custody: httpx.AsyncClient, unique: str
) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    for n, (offset, status) in enumerate(((-MINUTE, 200), (timedelta(0), 200), (MINUTE, 409)), start=1):
        did = await booked_in(custody, person(unique, n), booked)
        await post(custody, did, "warning", at(booked + MINUTE))
        taken = await post(custody, did, "sample", at(booked + timedelta(hours=24) + offset))
        assert taken.status_code == status, (offset, taken.text)
        if status == 409:
            assert taken.json()["rule_id"] == "T10"


async def test_t10_after_charge_the_minute_before_and_after_6_hours(
    custody: httpx.AsyncClient, unique: str
) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    charged = booked + timedelta(hours=2)
    for n, (offset, status) in enumerate(((-MINUTE, 200), (MINUTE, 409)), start=1):
        did = await booked_in(custody, person(unique, n), booked)
        await post(custody, did, "charge", {"codes": ["TA1968-s1"], **at(charged)})
        await post(custody, did, "warning", at(charged + MINUTE))
        taken = await post(custody, did, "sample", at(charged + timedelta(hours=6) + offset))
        assert taken.status_code == status, (offset, taken.text)
        assert status == 200 or taken.json()["rule_id"] == "T10"


async def test_t10_a_sample_taken_in_time_and_reported_after_the_timer_closed_the_window_is_accepted(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    did = await booked_in(custody, pid, booked)
    await post(custody, did, "warning", at(booked + MINUTE))
    passed = [e for e in await events_for(infra, pid, 5) if e["type"] == "custody.deadline_passed"]
    assert passed[0]["payload"]["deadline"] == "hold_pre_charge"  # the timer fired: the limit is long past
    late_report = await post(custody, did, "sample", at(booked + timedelta(hours=3)))
    assert late_report.status_code == 200, late_report.text
    taken = [e for e in await events_for(infra, pid, 6) if e["type"] == "custody.sample_taken"]
    assert taken[0]["occurred_at"].startswith("2008-06-01T13:20")


async def test_t10_a_late_sample_is_refused_before_any_timer_could_fire(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    """Book-in, warning and a sample 24 hours and a minute later, as one burst on the command topic: applied in
    one transaction, before the hold-for-sample timer that book-in schedules is even committed."""
    pid = person(unique)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    book = command(BookInCommand(body=BookIn.model_validate(booking(pid, booked))), pid)
    did = detention_id_for(book.event_id)
    warn = command(DetentionCommand(detention_id=did, action="warning", body=at(booked + MINUTE)), pid)
    late = command(
        DetentionCommand(detention_id=did, action="sample", body=at(booked + timedelta(hours=24) + MINUTE)),
        pid,
    )
    await send(infra, book, warn, late)
    letters = await dead_letters_for(infra, pid, 1)
    assert (
        letters[0]["dlq.reason"] == "rule-violation"
        and "T10: the sample was taken" in letters[0]["dlq.message"]
    )
    view = await custody.get(f"/v1/detentions/{did}", headers=bearer())
    assert view.json()["sample_taken_at"] is None


# -- T9 -------------------------------------------------------------------------------------------------------


async def test_t9_released_for_theft_charged_with_criminal_damage_alone_a_sample_stays_lawful_24_hours(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    limit = booked + timedelta(hours=24)
    for n, (offset, status) in enumerate(((timedelta(0), 200), (MINUTE, 409)), start=1):
        pid = person(unique, n)
        did = await booked_in(custody, pid, booked, "TA1968-s1", "CDA1971-s1")
        released = await post(
            custody,
            did,
            "offence-disposal",
            {"code": "TA1968-s1", "disposal": "no_further_action", **at(booked + timedelta(hours=2))},
        )
        assert released.status_code == 200 and released.json()["released_for"] == {
            "TA1968-s1": "no_further_action"
        }
        charged = await post(
            custody, did, "charge", {"codes": ["CDA1971-s1"], **at(booked + timedelta(hours=3))}
        )
        decision = charged.json()["decision"]
        assert (decision["stage"], decision["outcome"]) == ("charge", "required") and "T9" in decision[
            "rule_ids"
        ]
        # The view shows until when the person may be held (T10) while they may still be: the hold timer, its
        # limit long past in real time, may already have closed the window (no limit shown). The sample below
        # is judged on its own time either way, and pins the 24 hours.
        shown = charged.json()["time_limit"]
        assert shown is None or shown["until"].startswith(limit.isoformat()[:16].replace("+00:00", ""))
        await post(custody, did, "warning", at(booked + timedelta(hours=4)))
        taken = await post(custody, did, "sample", at(limit + offset))
        assert taken.status_code == status, taken.text
        assert status == 200 or taken.json()["rule_id"] == "T10"
    disposed = [
        e for e in await events_for(infra, person(unique, 1), 6) if e["type"] == "custody.offence_disposed"
    ]
    assert disposed[0]["payload"]["still_detained_for"] == ["CDA1971-s1"]


async def test_t9_without_the_release_for_theft_a_charge_with_criminal_damage_alone_needs_an_inspector(
    custody: httpx.AsyncClient, unique: str
) -> None:
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    did = await booked_in(custody, person(unique), booked, "TA1968-s1", "CDA1971-s1")
    charged = await post(custody, did, "charge", {"codes": ["CDA1971-s1"], **at(booked + timedelta(hours=3))})
    assert charged.json()["decision"]["outcome"] == "needs_authorisation"
    await post(custody, did, "warning", at(booked + timedelta(hours=4)))
    refused = await post(custody, did, "sample", at(booked + timedelta(hours=5)))
    assert refused.status_code == 409 and refused.json()["rule_id"] == "T2"


async def test_t9_the_release_for_an_offence_is_a_command_on_the_topic_too(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    book = command(
        BookInCommand(body=BookIn.model_validate(booking(pid, booked, "TA1968-s1", "CDA1971-s1"))), pid
    )
    did = detention_id_for(book.event_id)
    disposal = {"code": "TA1968-s1", "disposal": "bailed", **at(booked + timedelta(hours=1))}
    await send(
        infra,
        book,
        command(DetentionCommand(detention_id=did, action="offence_disposal", body=disposal), pid),
    )
    events = await events_for(infra, pid, 5)
    assert [e["type"] for e in events][-2:] == ["custody.offence_disposed", "custody.test_decision_made"]
    assert events[-1]["payload"]["rule_ids"] == ["T1", "T9", "CJCSA-Sch6"]


# -- T3 -------------------------------------------------------------------------------------------------------


async def test_t3_the_authorisation_goes_on_the_record_and_an_oral_one_waits_for_its_written_confirmation(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    did = await booked_in(custody, pid, booked, "CDA1971-s1")
    decided_at = booked + timedelta(minutes=40)
    decided = await post(
        custody,
        did,
        "inspector-decision",
        {
            "decision": "authorised",
            "rank": "chief_inspector",
            "grounds": "admitted crack use before the damage",
            "oral": True,
            **at(decided_at),
        },
        headers=officer("insp-ruth", Role.inspector),
    )
    assert decided.status_code == 200, decided.text
    record = (await custody.get(f"/v1/detentions/{did}", headers=bearer())).json()["authorisation"]
    assert record["by"] == "insp-ruth" and record["rank"] == "chief_inspector" and record["oral"] is True
    assert (
        record["grounds"] == "admitted crack use before the damage"
        and record["written_confirmation"] == "pending"
    )
    assert datetime.fromisoformat(record["at"]) == decided_at

    open_items = await custody.get(
        "/v1/open-items", params={"suite": "MET-BRIXTON"}, headers=officer("i", Role.inspector)
    )
    pending = [i for i in open_items.json() if i["detention_id"] == did]
    assert [(i["kind"], i["rule_ids"]) for i in pending] == [("written_confirmation_pending", ["T3"])]

    other = await post(custody, did, "written-confirmation", {}, headers=officer("insp-omar", Role.inspector))
    assert other.status_code == 409 and other.json()["rule_id"] == "T3"
    confirmed_at = decided_at + timedelta(hours=1)
    confirmed = await post(
        custody, did, "written-confirmation", at(confirmed_at), headers=officer("insp-ruth", Role.inspector)
    )
    assert confirmed.json()["authorisation"]["written_confirmation"] == "confirmed"
    assert confirmed.json()["authorisation"]["written_confirmed_by"] == "insp-ruth"
    told = await post(custody, did, "person-told", at(decided_at + timedelta(minutes=5)))
    assert datetime.fromisoformat(told.json()["authorisation"]["person_told_at"]) == decided_at + timedelta(
        minutes=5
    )
    open_items = await custody.get(
        "/v1/open-items", params={"suite": "MET-BRIXTON"}, headers=officer("i", Role.inspector)
    )
    assert did not in [i["detention_id"] for i in open_items.json()]
    types = [e["type"] for e in await events_for(infra, pid, 8)]
    assert {"custody.written_confirmation_recorded", "custody.person_told_of_authorisation"} <= set(types)


# -- T12 ------------------------------------------------------------------------------------------------------


async def test_t12_a_confirmatory_result_not_received_within_5_working_days_of_dispatch_is_overdue(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = datetime(2008, 9, 4, 10, 20, tzinfo=UTC)
    did = await booked_in(custody, pid, booked)
    await post(custody, did, "warning", at(booked + MINUTE))
    await post(custody, did, "sample", at(booked + 2 * MINUTE))
    await post(
        custody,
        did,
        "results",
        {"drug": "crack", "result": "positive", "disputed": True, **at(booked + 5 * MINUTE)},
    )
    dispatched = await post(custody, did, "confirmation-dispatch", at(datetime(2008, 9, 5, 15, tzinfo=UTC)))
    assert dispatched.status_code == 200, dispatched.text
    # Friday 5 Sep 2008: five working days run to Friday 12 Sep; overdue from Saturday 13 Sep (London)
    due = datetime.fromisoformat(dispatched.json()["confirmation"]["due_at"])
    assert due == datetime(2008, 9, 12, 23, tzinfo=UTC)

    overdue = await first_of(infra, pid, "custody.confirmation_overdue")
    assert overdue["payload"]["drugs"] == ["cocaine"]
    items = await custody.get("/v1/open-items", params={"suite": "MET-BRIXTON"}, headers=bearer())
    assert [(i["kind"], i["rule_ids"]) for i in items.json() if i["detention_id"] == did] == [
        ("confirmation_overdue", ["T12"])
    ]
    confirmed = await post(custody, did, "confirmatory-result", {"drug": "cocaine", "result": "positive"})
    assert confirmed.status_code == 200
    items = await custody.get("/v1/open-items", params={"suite": "MET-BRIXTON"}, headers=bearer())
    assert did not in [i["detention_id"] for i in items.json()]


async def first_of(infra: Infra, pid: str, event_type: str, timeout_s: float = 30) -> dict[str, Any]:
    """The person's first event of ``event_type`` on custody.events.v1, waiting for it to be published."""
    consumer = AIOKafkaConsumer(
        TOPIC, **kafka_consumer_options(infra.kafka_bootstrap), auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        if r.key != pid.encode():  # the topic also holds other tests' bad records
                            continue
                        event: dict[str, Any] = orjson.loads(r.value)
                        if event["type"] == event_type:
                            return event
    except TimeoutError:
        raise AssertionError(f"no {event_type} for {pid} within {timeout_s} s") from None
    finally:
        await consumer.stop()


async def test_t12_not_overdue_before_its_time(custody: httpx.AsyncClient, infra: Infra, unique: str) -> None:
    pid = person(unique)
    booked = datetime.now(UTC) - timedelta(hours=2)
    did = await booked_in(custody, pid, booked)
    await post(custody, did, "warning", at(booked + MINUTE))
    await post(custody, did, "sample", at(booked + 2 * MINUTE))
    await post(
        custody,
        did,
        "results",
        {"drug": "cocaine", "result": "positive", "disputed": True, **at(booked + 5 * MINUTE)},
    )
    await post(custody, did, "confirmation-dispatch", at(booked + timedelta(hours=1)))
    conn = await asyncpg.connect(server_dsn(infra.postgres_dsn, f"custody_{unique}"))
    try:
        due = await conn.fetchval(
            "SELECT due_at FROM deadlines WHERE kind = 'confirmation_due' AND subject = $1 AND fired_at IS NULL",
            did,
        )
    finally:
        await conn.close()
    assert due is not None and due > datetime.now(UTC) + timedelta(days=4)


# -- T14 ------------------------------------------------------------------------------------------------------


async def test_t14_results_only_for_drugs_specified_on_the_sample_day_and_unknown_names_are_422(
    custody: httpx.AsyncClient, unique: str
) -> None:
    async def sampled(n: int, day: datetime) -> str:
        did = await booked_in(custody, person(unique, n), day)
        await post(custody, did, "warning", at(day + MINUTE))
        assert (await post(custody, did, "sample", at(day + 2 * MINUTE))).status_code == 200
        return did

    before = await sampled(1, datetime(2023, 8, 1, 10, tzinfo=UTC))
    on = await sampled(2, datetime(2023, 8, 2, 10, tzinfo=UTC))
    mdma = {"drug": "ecstasy", "result": "positive"}
    refused = await post(custody, before, "results", mdma)
    assert refused.status_code == 409 and refused.json()["rule_id"] == "T14"
    accepted = await post(custody, on, "results", mdma)
    assert accepted.status_code == 200 and accepted.json()["results"] == {"mdma": "positive"}
    cannabis = await post(custody, on, "results", {"drug": "cannabis", "result": "positive"})
    assert cannabis.status_code == 409 and "Class B" in cannabis.json()["detail"]
    unknown = await post(custody, on, "results", {"drug": "snow", "result": "positive"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.drug"
    assert "cocaine" in unknown.json()["known_drugs"]


# -- commands on the topic: their own times, their own person, their cause -----------------------------------


async def test_a_command_without_its_own_time_is_recorded_at_its_occurred_at_and_names_its_cause(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    pid = person(unique)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    book = command(BookInCommand(body=BookIn.model_validate(booking(pid, booked))), pid)
    did = detention_id_for(book.event_id)
    warned_at = booked + timedelta(minutes=16, seconds=10)
    warn = command(DetentionCommand(detention_id=did, action="warning", body={}), pid)
    warn = warn.model_copy(update={"occurred_at": warned_at})
    await send(infra, book, warn)
    events = await events_for(infra, pid, 4)
    warning = next(e for e in events if e["type"] == "custody.warning_given")
    assert datetime.fromisoformat(warning["occurred_at"]) == warned_at
    assert warning["causation_id"] == str(warn.event_id)
    assert {e["causation_id"] for e in events[:3]} == {str(book.event_id)}
    view = await custody.get(f"/v1/detentions/{did}", headers=bearer())
    assert datetime.fromisoformat(view.json()["warned_at"]) == warned_at


async def test_a_command_keyed_by_one_person_naming_anothers_detention_is_dead_lettered_and_changes_nothing(
    custody: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    alice, bob = person(unique, 1), person(unique, 2)
    booked = datetime(2008, 6, 1, 10, 20, tzinfo=UTC)
    book = command(BookInCommand(body=BookIn.model_validate(booking(bob, booked))), bob)
    bobs = detention_id_for(book.event_id)
    await send(infra, book)
    await events_for(infra, bob, 3)
    wrong = command(
        DetentionCommand(detention_id=bobs, action="release", body={"release": "police_bail"}), alice
    )
    await send(infra, wrong)
    letters = await dead_letters_for(infra, alice, 1)
    assert (
        letters[0]["dlq.reason"] == "key-mismatch" and "not the keyed person's" in letters[0]["dlq.message"]
    )
    view = await custody.get(f"/v1/detentions/{bobs}", headers=bearer())
    assert view.json()["released_at"] is None

"""Scenarios S14-S23 through the custody and referral APIs and the real topics (docs/rules.md A and B)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dipflow.auth import Role
from dipflow.working_days import is_working_day
from tests.infra import Infra
from tests.integration.referral.stack import (
    MANAGER,
    SUITE,
    Stack,
    bearer,
    referral_events,
    running_stack,
    worker_token,
)

LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def stack(infra: Infra, unique: str) -> AsyncIterator[Stack]:
    async with running_stack(infra, unique) as s:
        yield s


async def test_s16_a_positive_result_is_assigned_to_a_worker_and_imposed_with_ra1(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1")
    await stack.add_worker("W2")
    pid = stack.person()
    result_at = datetime(2009, 2, 2, 11, tzinfo=UTC)  # Monday
    did = await stack.positive(pid, result_at)
    a = await stack.assessment_for(did)
    assert a["status"] == "proposed" and a["drugs"] == ["cocaine"]
    appointment = datetime.fromisoformat(a["initial"]["at"]).astimezone(LONDON)
    assert a["initial"]["worker_id"] == stack.wid("W1")  # equal loads: the lowest id
    assert result_at.date() < appointment.date() <= result_at.date() + timedelta(days=7)
    assert is_working_day(appointment.date()) and 9 <= appointment.hour < 17

    # the workers also receive assessments from earlier tests' results on the shared topic: look at this one
    day = {"day": appointment.date().isoformat()}
    inbox = (await stack.referral.get("/v1/inbox", params=day, headers=worker_token(stack.wid("W1")))).json()
    assert a["assessment_id"] in [i["assessment_id"] for i in inbox]
    theirs = (await stack.referral.get("/v1/inbox", params=day, headers=worker_token(stack.wid("W2")))).json()
    assert a["assessment_id"] not in [i["assessment_id"] for i in theirs]
    other = await stack.referral.get(
        f"/v1/assessments/{a['assessment_id']}", headers=worker_token(stack.wid("W2"))
    )
    assert other.status_code == 403

    imposed = await stack.referral.post(
        f"/v1/assessments/{a['assessment_id']}/impose",
        json={"place": "Brixton DIP office", "at": "2009-02-02T12:10:00Z"},
        headers=bearer(),
    )
    assert imposed.status_code == 200, imposed.text
    assert imposed.json()["status"] == "imposed" and imposed.json()["follow_up_imposed"] is True
    notices = (
        await stack.referral.get(f"/v1/assessments/{a['assessment_id']}/notices", headers=bearer())
    ).json()
    assert [n["form"] for n in notices] == ["RA1"]
    assert "Brixton DIP office" in notices[0]["text"] and appointment.strftime("%H:%M") in notices[0]["text"]

    events = await referral_events(
        infra,
        pid,
        {"referral.assessment_required", "referral.worker_assigned", "referral.requirement_imposed"},
        3,
    )
    assert [e["type"] for e in events] == [
        "referral.assessment_required",
        "referral.worker_assigned",
        "referral.requirement_imposed",
    ]
    assert events[0]["payload"]["rule_ids"] == ["A1", "A3", "A9"]
    assert events[2]["payload"]["rule_ids"] == ["A1", "A2", "A3"]
    assert "Test Person" not in str(events)


async def _ra1_to_serve(stack: Stack, did: str, expected: list[str]) -> dict[str, Any]:
    """Wait until custody's copy of referral's proposals gives the detention ``expected`` RA1 to serve."""
    last: dict[str, Any] = {}
    try:
        async with asyncio.timeout(30):
            while last.get("ra1_to_serve") != expected:
                last = (await stack.custody.get(f"/v1/detentions/{did}", headers=bearer())).json()
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"custody never showed RA1 to serve {expected}; last {last}") from None
    return last


async def test_s17_A1_release_before_RA1_needs_confirmation_and_the_lapse_is_counted_in_K4(
    stack: Stack,
) -> None:
    await stack.add_worker("W1")
    did = await stack.positive(stack.person(), datetime(2009, 3, 2, 11, tzinfo=UTC))
    a = await stack.assessment_for(did)
    await _ra1_to_serve(stack, did, [a["assessment_id"]])
    items = (await stack.custody.get("/v1/open-items", params={"suite": SUITE}, headers=bearer())).json()
    assert [(i["kind"], i["rule_ids"]) for i in items if i["detention_id"] == did] == [
        ("ra1_to_serve", ["A1"])
    ]

    release = {"release": "no_further_action", "at": "2009-03-02T13:00:00Z"}
    refused = await stack.custody.post(f"/v1/detentions/{did}/release", json=release, headers=bearer())
    assert refused.status_code == 409 and refused.json()["rule_id"] == "A1", refused.text
    assert "RA1 to serve" in refused.json()["detail"]
    assert (await stack.custody.get(f"/v1/detentions/{did}", headers=bearer())).json()["released_at"] is None

    await stack.custody_action(did, "release", {**release, "lapse_confirmed": True})
    lapsed = await stack.assessment_for(did, lambda x: x["status"] == "lapsed")
    assert lapsed["ended_reason"] == "released before the requirement was imposed"
    released = await _ra1_to_serve(stack, did, [])
    assert released["released_at"] is not None
    k4 = (
        await stack.referral.get(
            "/v1/measures/k4",
            params={"from": "2009-03-01", "to": "2009-03-31"},
            headers=bearer(Role.analyst, "*"),
        )
    ).json()
    row = next(r for r in k4 if r["suite"] == SUITE)
    assert (row["positives"], row["requirements_imposed"], row["requirements_lapsed"]) == (1, 0, 1)
    late = await stack.referral.post(
        f"/v1/assessments/{a['assessment_id']}/impose", json={}, headers=bearer()
    )
    assert late.status_code == 409 and late.json()["rule_id"] == "A1"
    inbox = (await stack.referral.get("/v1/inbox", headers=worker_token(stack.wid("W1")))).json()
    assert a["assessment_id"] not in [i["assessment_id"] for i in inbox]  # the slot is free again


async def _imposed(stack: Stack, n: int, at: datetime) -> tuple[str, dict[str, object]]:
    did = await stack.positive(stack.person(n), at)
    a = await stack.assessment_for(did)
    answer = await stack.referral.post(
        f"/v1/assessments/{a['assessment_id']}/impose",
        json={"place": "DIP office", "at": (at + timedelta(hours=1)).isoformat()},
        headers=bearer(),
    )
    assert answer.status_code == 200, answer.text
    return did, answer.json()


async def test_s18_s19_s20_attendance_failures_notify_the_police_and_follow_ups_continue_with_the_worker(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1", capacity=8)
    base = datetime(2009, 4, 6, 11, tzinfo=UTC)
    _, missed = await _imposed(stack, 1, base)
    _, follow = await _imposed(stack, 2, base)
    _, ended = await _imposed(stack, 3, base)
    me = worker_token(stack.wid("W1"))

    def url(a: dict[str, object], what: str) -> str:
        return f"/v1/assessments/{a['assessment_id']}/{what}"

    # S18: misses the initial assessment without good cause
    failed = await stack.referral.post(
        url(missed, "attendance"),
        json={"outcome": "failed_to_attend", "at": "2009-04-08T10:00:00Z", "clinical_note": "NOT FOR EVENTS"},
        headers=me,
    )
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert failed.json()["follow_up_imposed"] is False
    # S19: attends, is given RA4 with the same worker, misses the follow-up
    assert (
        await stack.referral.post(
            url(follow, "attendance"), json={"outcome": "attended", "at": "2009-04-08T10:00:00Z"}, headers=me
        )
    ).status_code == 200
    ra4 = await stack.referral.post(
        url(follow, "follow-up"),
        json={"needed": True, "appointment_at": "2009-04-20T10:00:00Z", "place": "DIP office"},
        headers=me,
    )
    assert ra4.status_code == 200 and ra4.json()["follow_up"]["worker_id"] == stack.wid("W1")
    second = await stack.referral.post(
        url(follow, "attendance"),
        json={"kind": "follow_up", "outcome": "failed_to_remain", "at": "2009-04-20T11:00:00Z"},
        headers=me,
    )
    assert second.json()["status"] == "failed"
    # S20: attends; the assessor ends the follow-up
    assert (
        await stack.referral.post(
            url(ended, "attendance"), json={"outcome": "attended", "at": "2009-04-08T10:00:00Z"}, headers=me
        )
    ).status_code == 200
    ra5 = await stack.referral.post(url(ended, "follow-up"), json={"needed": False}, headers=me)
    assert ra5.json()["status"] == "completed"
    forms = [n["form"] for n in (await stack.referral.get(url(ended, "notices"), headers=me)).json()]
    assert forms == ["RA1", "RA3", "RA5"]

    notified = await referral_events(infra, stack.person(1), {"referral.failure_notified"}, 1)
    evidence = notified[0]["payload"]
    assert (evidence["offence"], evidence["notice"], evidence["rule_ids"]) == ("DA05 s.12(3)", "RA1", ["A4"])
    assert (
        evidence["place"] == "DIP office" and evidence["imposed_at"] and evidence["follow_up_ended"] is True
    )
    follow_up_failure = (await referral_events(infra, stack.person(2), {"referral.failure_notified"}, 1))[0][
        "payload"
    ]
    assert (follow_up_failure["offence"], follow_up_failure["rule_ids"]) == ("DA05 s.14(3)", ["A5"])
    everything = await referral_events(
        infra, stack.person(1), {"referral.attendance_recorded", "referral.failure_notified"}, 2
    )
    assert "NOT FOR EVENTS" not in str(everything)  # A8

    # A8: clinical notes for assessment staff only
    assert (await stack.referral.get(url(missed, "clinical-notes"), headers=me)).json()[0][
        "note"
    ] == "NOT FOR EVENTS"
    assert (await stack.referral.get(url(missed, "clinical-notes"), headers=bearer())).status_code == 403
    assert (
        await stack.referral.get(url(missed, "clinical-notes"), headers=bearer(Role.court_liaison, "lambeth"))
    ).status_code == 403

    k4 = (
        await stack.referral.get(
            "/v1/measures/k4",
            params={"from": "2009-04-01", "to": "2009-04-30"},
            headers=bearer(Role.analyst, "*"),
        )
    ).json()
    row = next(r for r in k4 if r["suite"] == "MET-BRIXTON")
    assert (row["tests"], row["positives"], row["requirements_imposed"]) == (3, 3, 3)
    assert (row["initial_attended"], row["follow_up_attended"], row["failures"]) == (2, 0, 2)


async def test_s14_s15_a6_negative_results_confirmations_and_medication(stack: Stack) -> None:
    await stack.add_worker("W1")
    pid = stack.person()
    at = datetime(2009, 5, 4, 11, tzinfo=UTC)
    # S14: a negative result gives no required assessment
    body = {
        "person_id": pid,
        "name": "Test Person",
        "date_of_birth": "1970-01-15",
        "home_area": "lambeth",
        "suite": "MET-BRIXTON",
        "arrested_at": at.isoformat(),
        "booked_in_at": at.isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": "2009-05-04"}],
    }
    neg = (await stack.custody.post("/v1/detentions", json=body, headers=bearer())).json()["detention_id"]
    await stack.custody_action(neg, "warning", {"at": (at + timedelta(minutes=5)).isoformat()})
    await stack.custody_action(neg, "sample", {"at": (at + timedelta(minutes=10)).isoformat()})
    await stack.custody_action(neg, "results", {"drug": "cocaine", "result": "negative"})
    # S15: opiates positive, methadone declared, heroin use accepted: no confirmation, assessment as usual
    s15 = await stack.positive(pid, at + timedelta(days=1), "opiates")
    a15 = await stack.assessment_for(
        s15
    )  # same person, later on the same partition: the negative was handled
    assert a15["disputed"] is False
    listed = (await stack.referral.get("/v1/assessments", params={"area": "lambeth"}, headers=MANAGER)).json()
    assert neg not in [x["detention_id"] for x in listed]
    # A6: a disputed positive waits 5 working days; a negative confirmation ends the requirement
    disputed = await stack.positive(stack.person(2), at, "cocaine", disputed=True)
    a6 = await stack.assessment_for(disputed)
    # the result came on bank-holiday Monday 4 May 2009: 5 working days after dispatch is Monday 11 May
    assert datetime.fromisoformat(a6["initial"]["at"]).date() == datetime(2009, 5, 11).date()
    await stack.custody_action(disputed, "confirmatory-result", {"drug": "cocaine", "result": "negative"})
    ended = await stack.assessment_for(disputed, lambda x: x["status"] == "ended")
    assert "no specified drug" in ended["ended_reason"]


async def test_s21_s22_s23_restriction_on_bail_notice_condition_breach_and_arrest(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1")
    at = datetime(2009, 6, 1, 11, tzinfo=UTC)
    liaison = bearer(Role.court_liaison, "lambeth")
    # S21: positive, charged with theft, refuses assessment, lives in a notified area
    refused = await stack.positive(stack.person(1), at, charge=True)
    pending = await stack.bail_case(refused, lambda c: c["restriction"] == "pending")
    assert pending["notified_at"] is None
    answer = await stack.referral.post(
        f"/v1/bail-cases/{refused}/agreement",
        json={"agreed": False, "substantial_grounds": True},
        headers=bearer(),
    )
    assert answer.status_code == 200 and answer.json()["restriction"] == "applies"
    assert answer.json()["rule_ids"] == ["B1", "B2"] and any(
        "did not agree" in r for r in answer.json()["reasons"]
    )
    notice = (await referral_events(infra, stack.person(1), {"referral.bail_notice"}, 1))[0]["payload"]
    assert notice["restriction"] == "applies" and notice["area"] == "lambeth"
    # S22: the same, but agrees: bail with a condition; the court's condition supersedes the requirement (A7)
    agreed = await stack.positive(stack.person(2), at, charge=True)
    await stack.bail_case(agreed)
    assert (
        await stack.referral.post(
            f"/v1/bail-cases/{agreed}/agreement",
            json={"agreed": True, "substantial_grounds": True},
            headers=bearer(),
        )
    ).json()["restriction"] == "condition"
    court = await stack.referral.post(
        f"/v1/bail-cases/{agreed}/outcome",
        json={
            "outcome": "bail_with_assessment_condition",
            "court": "Camberwell Green Magistrates",
            "decided_on": "2009-06-02",
        },
        headers=liaison,
    )
    assert court.status_code == 200, court.text
    superseded = await stack.assessment_for(agreed, lambda x: x["status"] == "ended")
    assert "bail condition" in superseded["ended_reason"]
    # S23: breaks the condition; arrested on a Saturday: before a justice by Monday, Sunday not counted
    broken = await stack.referral.post(
        f"/v1/bail-cases/{agreed}/breach",
        json={"what": "did not attend the assessment"},
        headers=worker_token(stack.wid("W1")),
    )
    assert broken.status_code == 200 and broken.json()["breached_at"]
    saturday = datetime(2099, 6, 6, 10, tzinfo=UTC)  # after the recorded breach (now)
    arrest = {
        "person_id": stack.person(2),
        "name": "Test Person",
        "date_of_birth": "1970-01-15",
        "home_area": "lambeth",
        "suite": "MET-BRIXTON",
        "arrested_at": saturday.isoformat(),
        "booked_in_at": saturday.isoformat(),
        "offences": [{"code": "BA1976-s7", "offence_date": "2099-06-06"}],
    }
    booked = await stack.custody.post("/v1/detentions", json=arrest, headers=bearer())
    assert booked.status_code == 201 and booked.json()["decision"]["outcome"] == "not_allowed"
    arrested = await stack.bail_case(agreed, lambda c: c["arrested_at"] is not None)
    assert datetime.fromisoformat(arrested["before_justice_by"]) == datetime(2099, 6, 8, 10, tzinfo=UTC)
    event = (await referral_events(infra, stack.person(2), {"referral.bail_breach_arrest"}, 1))[0]["payload"]
    assert event["rule_ids"] == ["B4"] and event["arrest_detention_id"] == booked.json()["detention_id"]
    # court liaison is told at once, with the time by which the person must be before a justice
    alerts = (await stack.referral.get("/v1/alerts", headers=liaison)).json()["items"]
    mine = [x for x in alerts if x["case_id"] == agreed and x["kind"] == "before-a-justice"]
    assert [(x["role"], x["state"], x["rule_ids"]) for x in mine] == [("court_liaison", "open", ["B4"])]
    assert datetime.fromisoformat(mine[0]["due_at"]) == datetime(2099, 6, 8, 10, tzinfo=UTC)
    # court liaison of another area sees nothing of lambeth's
    assert (
        await stack.referral.get(
            "/v1/bail-cases", params={"area": "lambeth"}, headers=bearer(Role.court_liaison, "camden")
        )
    ).status_code == 403

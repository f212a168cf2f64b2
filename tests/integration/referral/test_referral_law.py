"""A4 (a failure to remain), A6 (the person is told, both requirements end) and A3/T12 (the wait for a disputed
result runs from the dispatch) through the custody and referral APIs and the real topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.infra import Infra
from tests.integration.referral.stack import Stack, bearer, referral_events, running_stack, worker_token

LONDON = ZoneInfo("Europe/London")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def stack(infra: Infra, unique: str) -> AsyncIterator[Stack]:
    async with running_stack(infra, unique) as s:
        yield s


async def imposed(stack: Stack, n: int, at: datetime, **positive: Any) -> dict[str, Any]:
    did = await stack.positive(stack.person(n), at, **positive)
    a = await stack.assessment_for(did)
    answer = await stack.referral.post(
        f"/v1/assessments/{a['assessment_id']}/impose",
        json={"place": "DIP office", "at": (at + timedelta(hours=1)).isoformat()},
        headers=bearer(),
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a4_a_failure_to_remain_is_notified_as_such_and_the_follow_up_can_still_be_set(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1", capacity=8)
    a = await imposed(stack, 1, datetime(2010, 3, 1, 11, tzinfo=UTC))
    me = worker_token(stack.wid("W1"))
    url = f"/v1/assessments/{a['assessment_id']}"
    left = await stack.referral.post(
        f"{url}/attendance", json={"outcome": "failed_to_remain", "at": "2010-03-03T10:20:00Z"}, headers=me
    )
    assert left.status_code == 200, left.text
    view = left.json()
    assert view["follow_up_imposed"] is True and view["status"] == "initial_attended"
    assert (view["initial_requirement"], view["follow_up_requirement"]) == ("failed", "in_force")
    notified = (await referral_events(infra, stack.person(1), {"referral.failure_notified"}, 1))[0]["payload"]
    assert notified["outcome"] == "failed_to_remain" and notified["follow_up_ended"] is False
    assert notified["what"] == "failed without good cause to remain for the whole of the initial assessment"
    ra4 = await stack.referral.post(
        f"{url}/follow-up",
        json={"needed": True, "appointment_at": "2010-03-15T10:00:00Z", "place": "DIP office"},
        headers=me,
    )
    assert ra4.status_code == 200 and ra4.json()["status"] == "follow_up_set", ra4.text


async def test_a4_a_failure_to_attend_the_initial_still_ends_the_follow_up(stack: Stack) -> None:
    await stack.add_worker("W1", capacity=8)
    a = await imposed(stack, 1, datetime(2010, 3, 1, 11, tzinfo=UTC))
    me = worker_token(stack.wid("W1"))
    url = f"/v1/assessments/{a['assessment_id']}"
    missed = await stack.referral.post(
        f"{url}/attendance", json={"outcome": "failed_to_attend", "at": "2010-03-03T10:20:00Z"}, headers=me
    )
    assert (missed.json()["initial_requirement"], missed.json()["follow_up_requirement"]) == (
        "failed",
        "ended",
    )
    set_anyway = await stack.referral.post(
        f"{url}/follow-up",
        json={"needed": True, "appointment_at": "2010-03-15T10:00:00Z", "place": "DIP office"},
        headers=me,
    )
    assert set_anyway.status_code == 409 and set_anyway.json()["rule_id"] == "A5"


async def test_a6_a_negative_confirmation_ends_both_requirements_and_the_person_is_told(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1", capacity=8)
    at = datetime(2009, 6, 1, 11, tzinfo=UTC)
    quiet = await imposed(stack, 1, at, disputed=True)
    failed = await imposed(stack, 2, at, disputed=True)
    me = worker_token(stack.wid("W1"))
    await stack.referral.post(
        f"/v1/assessments/{failed['assessment_id']}/attendance",
        json={"outcome": "failed_to_attend", "at": failed["initial"]["at"]},
        headers=me,
    )
    for a in (quiet, failed):
        await stack.custody_action(
            a["detention_id"], "confirmatory-result", {"drug": "cocaine", "result": "negative"}
        )
    for a, dropped in ((quiet, False), (failed, True)):
        ended = await stack.assessment_for(a["detention_id"], lambda x: x["status"] == "ended")
        assert ended["follow_up_requirement"] == "ended"
        assert ended["initial_requirement"] == ("failed" if dropped else "ended")
        notices = (
            await stack.referral.get(f"/v1/assessments/{a['assessment_id']}/notices", headers=me)
        ).json()
        told = [n for n in notices if n["form"] == "A6"]
        assert len(told) == 1 and "found no specified Class A drug" in told[0]["text"]
        assert ("You will not be prosecuted" in told[0]["text"]) is dropped
    ended_events = await referral_events(infra, stack.person(2), {"referral.requirements_ended"}, 1)
    assert ended_events[0]["payload"]["person_told"] is True
    assert ended_events[0]["payload"]["prosecution_dropped"] is True


async def test_a3_t12_the_wait_for_a_disputed_result_runs_from_the_dispatch(
    stack: Stack, infra: Infra
) -> None:
    await stack.add_worker("W1", capacity=8)
    result_at = datetime(2009, 6, 1, 11, tzinfo=UTC)  # Monday
    did = await stack.positive(stack.person(1), result_at, disputed=True)
    proposed = await stack.assessment_for(did)
    first = datetime.fromisoformat(proposed["initial"]["at"]).astimezone(LONDON).date()
    assert first == date(2009, 6, 8)  # 5 working days from the result while the dispatch is not known
    await stack.custody_action(did, "confirmation-dispatch", {"at": "2009-06-04T15:00:00Z"})  # Thursday
    moved = await stack.assessment_for(did, lambda x: x["earliest_day"] == "2009-06-11")
    assert datetime.fromisoformat(moved["initial"]["at"]).astimezone(LONDON).date() == date(2009, 6, 11)
    assert moved["initial"]["worker_id"] == stack.wid("W1")

"""Panel flags (P3): re-checked when a positive result or a failed assessment arrives; reviewed by the PPO
coordinator of the borough."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from dipflow.errors import Conflict, Forbidden, NotFound
from dipflow.uow import UnitOfWork
from dipflow_ppo_register.adapters import flags, register, results
from dipflow_ppo_register.domain.panel import FlagRecord, PanelFlag, first_panel_flag


def _evidence(flag: PanelFlag) -> dict[str, Any]:
    return {
        "positive_tests": [
            {"detention_id": t.detention_id, "sampled_on": t.sampled_on.isoformat(), "drugs": list(t.drugs)}
            for t in flag.positives
        ],
        "failed_assessments": [
            {**asdict(f), "occurred_on": f.occurred_on.isoformat()} for f in flag.failures
        ],
    }


async def reconsider_later(uow: UnitOfWork, person_id: str, *, threshold: int) -> None:
    """P3 re-checked for the person: in a consumer's batch once at its end for everyone its events named
    (the whole history is considered each time, so one check after the batch's last event decides the same),
    otherwise now."""

    async def check(people: list[str]) -> None:
        await reconsider(uow, people, threshold=threshold)

    await uow.at_end(("panel", threshold), person_id, check)


async def reconsider(uow: UnitOfWork, person_ids: Sequence[str], *, threshold: int) -> list[str]:
    """For each person, raise a flag if P3 held on some day and none is waiting for review; after a review,
    only evidence newer than the review raises a new one. Returns who was flagged."""
    named = sorted(set(person_ids))
    await uow.flush()
    await flags.lock_people(uow, named)
    failures = await results.failures_of(uow, named, date.max)
    people = sorted(failures)  # P3 rests on a failure: no one without one can be flagged
    if not people:
        return []
    reviews = await flags.last_reviews_of(uow, people)
    tests = await results.positive_tests_of(uow, people, date.max)
    flagged: list[str] = []
    for person_id in people:
        if person_id in reviews and reviews[person_id] is None:
            continue  # a flag is waiting for the panel
        reviewed_at = reviews.get(person_id)
        reviewed_on = reviewed_at.date() if reviewed_at is not None else None
        flag = first_panel_flag(
            tests.get(person_id, []),
            failures.get(person_id, []),
            threshold=threshold,
            evidence_after=reviewed_on,
        )
        if flag is None:
            continue
        borough = await register.current_borough(uow, person_id) or flag.positives[-1].home_area
        await flags.raise_flag(
            uow, person_id, borough, flag.raised_on, flag.reason, list(flag.rule_ids), _evidence(flag)
        )
        flagged.append(person_id)
    return flagged


async def flags_in(
    uow: UnitOfWork, borough: str | None, include_reviewed: bool, purpose: str
) -> list[FlagRecord]:
    found = await flags.flags_in(uow, borough, include_reviewed)
    await uow.audit(
        "panel_flags.read", detail={"borough": borough, "returned": len(found), "purpose": purpose}
    )
    return found


async def borough_of_flag(uow: UnitOfWork, flag_id: int) -> str:
    flag = await flags.by_id(uow, flag_id)
    if flag is None:
        raise NotFound("panel flag", str(flag_id))
    return flag.borough


async def review(
    uow: UnitOfWork, flag_id: int, *, outcome: str, note: str | None, covers: Callable[[str], bool]
) -> FlagRecord:
    """The panel's decision, once: a second review is a 409."""
    assert uow.actor is not None
    current = await flags.by_id(uow, flag_id)
    if current is None:
        raise NotFound("panel flag", str(flag_id))
    if not covers(current.borough):
        raise Forbidden("this flag belongs to an area you do not cover", kind="wrong-area")
    reviewed = await flags.review(uow, flag_id, by=uow.actor.subject, outcome=outcome, note=note)
    if reviewed is None:
        raise Conflict("this flag has already been reviewed", kind="already-reviewed")
    await uow.audit("panel_flag.review", current.person_id, {"outcome": outcome})
    return reviewed

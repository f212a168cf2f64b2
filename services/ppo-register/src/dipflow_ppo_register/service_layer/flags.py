"""Panel flags (P3): re-checked when a positive result or a failed assessment arrives; reviewed by the PPO
coordinator of the borough."""

from __future__ import annotations

from collections.abc import Callable
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


async def reconsider(uow: UnitOfWork, person_id: str, *, threshold: int) -> bool:
    """Raise a flag if P3 held on some day and none is waiting for review; after a review, only evidence newer
    than the review raises a new one. Returns whether a flag was raised."""
    await uow.flush()
    await flags.lock_person(uow, person_id)
    flagged, reviewed_at = await flags.last_review_of(uow, person_id)
    if flagged and reviewed_at is None:
        return False
    tests = (await results.positive_tests_of(uow, [person_id], date.max)).get(person_id, [])
    failures = await results.failures_of(uow, person_id, date.max)
    reviewed_on = reviewed_at.date() if reviewed_at is not None else None
    flag = first_panel_flag(tests, failures, threshold=threshold, evidence_after=reviewed_on)
    if flag is None:
        return False
    borough = await register.current_borough(uow, person_id) or flag.positives[-1].home_area
    await flags.raise_flag(
        uow, person_id, borough, flag.raised_on, flag.reason, list(flag.rule_ids), _evidence(flag)
    )
    return True


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

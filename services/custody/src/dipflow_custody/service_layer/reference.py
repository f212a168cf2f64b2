"""Reference reads: a suite's area, a person's PPO status in custody's copy of the register (T4), and K5."""

from __future__ import annotations

from datetime import date

from dipflow import ppo_copy
from dipflow.errors import NotFound
from dipflow.uow import UnitOfWork
from dipflow_custody.adapters import reference, views
from dipflow_custody.adapters.views import TestsInMonth


async def suite_area(uow: UnitOfWork, suite: str) -> str:
    place = await reference.suite_place(uow, suite)
    if place is None:
        raise NotFound("custody suite", suite)
    return place[1]


async def ppo_borough(uow: UnitOfWork, person_id: str) -> str | None:
    """The borough whose register holds the person now (None: not a PPO); the read is audited."""
    borough = await ppo_copy.borough_of(uow, person_id)
    await uow.audit("ppo_status.read", person_id)
    return borough


async def tests_by_suite_and_month(uow: UnitOfWork, since: date, until: date) -> list[TestsInMonth]:
    """K5: samples taken per suite and month."""
    return await views.tests_by_suite_and_month(uow, since, until)

"""A1: custody's copy of referral's required-assessment proposals, kept on the detention, so the officer releasing a
person is told that RA1 is still to serve (and that the release lapses it unless served). A proposal learnt after
the release changes nothing: referral lapses it on the release. Each change is idempotent."""

from __future__ import annotations

from collections.abc import Callable

from dipflow.uow import UnitOfWork
from dipflow_custody.adapters import repository as detentions
from dipflow_custody.domain.detention import Detention


async def proposed(uow: UnitOfWork, detention_id: str, assessment_id: str) -> None:
    """Referral proposed a required assessment: RA1 is to serve before release."""
    await _change(uow, detention_id, lambda d: d.requirement_proposed(assessment_id))


async def settled(uow: UnitOfWork, detention_id: str, assessment_id: str) -> None:
    """RA1 served, or the requirement lapsed or ended: nothing left to serve for it."""
    await _change(uow, detention_id, lambda d: d.requirement_settled(assessment_id))


async def _change(uow: UnitOfWork, detention_id: str, change: Callable[[Detention], bool]) -> None:
    loaded = await detentions.load(uow, detention_id)
    if loaded is None:
        return
    d, version, _ = loaded
    if change(d):
        await detentions.save(uow, d, version)

"""Targets for the measures: set by analysts (audited), read with the measures."""

from __future__ import annotations

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.adapters import targets
from dipflow_ppo_register.domain.measures import Target

MEASURES = ("k1",)


async def set_target(uow: UnitOfWork, measure: str, borough: str, target: Target, by: str) -> None:
    """The borough's target for ``measure`` from now on; the change is audited with what it was set to."""
    await targets.set_target(uow, measure, borough, target, by)
    await uow.audit(
        "measure_target.set",
        detail={
            "measure": measure,
            "borough": borough,
            "baseline": target.baseline_period,
            "increase": target.increase,
        },
    )


async def targets_of(uow: UnitOfWork, measure: str) -> dict[str, Target]:
    return await targets.targets_of(uow, measure)

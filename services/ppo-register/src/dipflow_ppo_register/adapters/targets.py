"""The measure targets analysts set, per measure and borough."""

from __future__ import annotations

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.domain.measures import Target


async def set_target(uow: UnitOfWork, measure: str, borough: str, target: Target, by: str) -> None:
    await uow.conn.execute(
        "INSERT INTO measure_targets (measure, borough, baseline_period, increase, set_by) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (measure, borough) DO UPDATE SET "
        "baseline_period = EXCLUDED.baseline_period, increase = EXCLUDED.increase, set_by = EXCLUDED.set_by, "
        "set_at = now()",
        measure,
        borough,
        target.baseline_period,
        target.increase,
        by,
    )


async def targets_of(uow: UnitOfWork, measure: str) -> dict[str, Target]:
    rows = await uow.conn.fetch(
        "SELECT borough, baseline_period, increase FROM measure_targets WHERE measure = $1", measure
    )
    return {r["borough"]: Target(r["baseline_period"], r["increase"]) for r in rows}

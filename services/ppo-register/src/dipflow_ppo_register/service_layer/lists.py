"""The tested-positive list (P2) and the measures (K1, K2), read from the register and the read models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from dipflow.auth.principal import force_of
from dipflow.periods import Granularity, bounds, period_of, whole_periods
from dipflow.uow import UnitOfWork
from dipflow_ppo_register.adapters import register, results
from dipflow_ppo_register.domain.measures import K1Row, K2Row, Target, k1, k2
from dipflow_ppo_register.domain.positives import PositiveListEntry, positive_list_entry
from dipflow_ppo_register.domain.register import Period


@dataclass(frozen=True)
class PositiveListLine:
    period: Period
    entry: PositiveListEntry


async def tested_positive_list(
    uow: UnitOfWork, on: date, borough: str | None, purpose: str
) -> list[PositiveListLine]:
    """PPOs on the register on ``on`` (in ``borough``) with a positive test by then, latest first; the
    reading is audited with its purpose (T13)."""
    periods = await register.on_date(uow, on, borough)
    tests = await results.positive_tests_of(uow, [p.person_id for p in periods], on)
    lines = []
    for period in periods:
        entry = positive_list_entry(tests.get(period.person_id, []), on)
        if entry is not None:
            lines.append(PositiveListLine(period, entry))
    await uow.audit(
        "tested_positive.read",
        detail={"borough": borough, "as_of": str(on), "returned": len(lines), "purpose": purpose},
    )
    return sorted(lines, key=lambda x: (x.entry.last_positive_on, x.period.person_id), reverse=True)


async def k1_rows(
    uow: UnitOfWork,
    first: date,
    last: date,
    granularity: Granularity,
    target_of: Callable[[str], Target | None],
    baseline_periods: Iterable[str],
) -> list[K1Row]:
    """K1 rows for the whole periods from ``first`` to ``last``, each borough's compared with its target's
    baseline period (which may lie outside the range; ``baseline_periods`` are every target's)."""
    first, last = whole_periods(first, last, granularity)
    arrests = {a.detention_id: a for a in await results.arrests_between(uow, first, last)}
    for baseline in set(baseline_periods):
        arrests.update({a.detention_id: a for a in await results.arrests_between(uow, *bounds(baseline))})
    chosen = list(arrests.values())
    periods = await register.periods_of(uow, {a.person_id for a in chosen})
    wanted = (period_of(first, granularity), period_of(last, granularity))
    rows = k1(chosen, periods, granularity, target_of, force_of)
    return [r for r in rows if wanted[0] <= r.period <= wanted[1]]


async def k2_rows(uow: UnitOfWork, first: date, last: date, granularity: Granularity) -> list[K2Row]:
    first, last = whole_periods(first, last, granularity)
    arrests = await results.arrests_between(uow, first, last)
    charges = await results.charges_between(uow, first, last)
    failures = await results.failures_between(uow, first, last)
    afterwards = await results.since_of(uow, {f.person_id for f in failures}, first)
    people = {a.person_id for a in arrests} | {c.person_id for c in charges} | {f.person_id for f in failures}
    periods = await register.periods_of(uow, people)
    return k2(arrests, charges, periods, granularity, failures, afterwards, force_of)

"""The tested-positive list (P2) and the measures (K1, K2), read from the register and the read models."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.adapters import register, results
from dipflow_ppo_register.domain.measures import K1Row, K2Row, k1, k2
from dipflow_ppo_register.domain.positives import PositiveListEntry, positive_list_entry
from dipflow_ppo_register.domain.register import Period
from dipflow_ppo_register.domain.window import month_of


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


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(x) for x in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


async def k1_rows(uow: UnitOfWork, first: date, last: date, baseline_month: str | None) -> list[K1Row]:
    """K1 rows for the months from ``first`` to ``last``, each compared with ``baseline_month`` (which may lie
    outside the range; its own rows are included)."""
    arrests = {a.detention_id: a for a in await results.arrests_between(uow, first, last)}
    if baseline_month:
        baseline = await results.arrests_between(uow, *month_bounds(baseline_month))
        arrests.update({a.detention_id: a for a in baseline})
    chosen = list(arrests.values())
    periods = await register.periods_of(uow, {a.person_id for a in chosen})
    rows = k1(chosen, periods, baseline_month=baseline_month)
    wanted = (month_of(first), month_of(last))
    return [r for r in rows if wanted[0] <= r.month <= wanted[1] or r.month == baseline_month]


async def k2_rows(uow: UnitOfWork, first: date, last: date) -> list[K2Row]:
    arrests = await results.arrests_between(uow, first, last)
    charges = await results.charges_between(uow, first, last)
    people = {a.person_id for a in arrests} | {c.person_id for c in charges}
    return k2(arrests, charges, await register.periods_of(uow, people))

"""K4: arrest referral measures by month, borough and custody suite; the borough is the one the suite serves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from dipflow.periods import Granularity, whole_periods
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import views
from dipflow_referral.domain.measures import Breakdown, K4Line, k4_table


async def k4(
    uow: UnitOfWork,
    since: date,
    until: date,
    borough: str | None,
    covers: Callable[[str], bool],
    per: Granularity = Granularity.month,
    by: Breakdown | None = None,
) -> list[K4Line]:
    """K4 lines for the whole periods from ``since`` to ``until`` (London days), of ``borough`` when given, of
    boroughs the caller covers."""
    since, until = whole_periods(since, until, per)
    lines = k4_table(await views.k4_counts(uow, since, until), per, by)
    return [x for x in lines if (borough is None or x.borough == borough) and covers(x.borough)]

"""K4: arrest referral measures by month, borough and custody suite; the borough is the one the suite serves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import views
from dipflow_referral.domain.measures import K4Line, k4_table


async def k4(
    uow: UnitOfWork, since: date, until: date, borough: str | None, covers: Callable[[str], bool]
) -> list[K4Line]:
    """K4 lines in [since, until] (London days), of ``borough`` when given, of boroughs the caller covers."""
    lines = k4_table(await views.k4_counts(uow, since, until))
    return [x for x in lines if (borough is None or x.borough == borough) and covers(x.borough)]

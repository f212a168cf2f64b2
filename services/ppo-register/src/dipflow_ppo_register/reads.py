"""Queries behind the tested-positive list (P2) and the measures (K1, K2)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import asyncpg

from dipflow_ppo_register import handlers
from dipflow_ppo_register.adapters.results import positive_tests_of
from dipflow_ppo_register.domain.measures import Arrest, Charge, K1Row, K2Row, k1, k2
from dipflow_ppo_register.domain.positives import PositiveListEntry, positive_list_entry
from dipflow_ppo_register.domain.register import Period
from dipflow_ppo_register.domain.window import month_of


@dataclass(frozen=True)
class PositiveListLine:
    period: Period
    entry: PositiveListEntry


async def tested_positive_list(
    conn: asyncpg.Connection, on: date, borough: str | None
) -> list[PositiveListLine]:
    """PPOs on the register on ``on`` (in ``borough``) with a positive test by then, latest first."""
    periods = await handlers.as_of(conn, on, borough)
    tests = await positive_tests_of(conn, [p.person_id for p in periods], on)
    lines = []
    for period in periods:
        entry = positive_list_entry(tests.get(period.person_id, []), on)
        if entry is not None:
            lines.append(PositiveListLine(period, entry))
    return sorted(lines, key=lambda x: (x.entry.last_positive_on, x.period.person_id), reverse=True)


async def _periods_of(conn: asyncpg.Connection, person_ids: set[str]) -> dict[str, list[Period]]:
    rows = await conn.fetch(
        f"SELECT {handlers.COLUMNS} FROM register_periods WHERE person_id = ANY($1::text[]) ORDER BY start_date, id",
        list(person_ids),
    )
    periods: dict[str, list[Period]] = {}
    for row in rows:
        periods.setdefault(row["person_id"], []).append(handlers.period_from(row))
    return periods


async def _arrests(conn: asyncpg.Connection, first: date, last: date) -> list[Arrest]:
    rows = await conn.fetch(
        "SELECT detention_id, person_id, arrested_on, codes, trigger_offence, offences, inspector_decision "
        "FROM arrests WHERE arrested_on BETWEEN $1 AND $2",
        first, last,
    )  # fmt: skip
    return [
        Arrest(
            r["detention_id"],
            r["person_id"],
            r["arrested_on"],
            frozenset(r["codes"]),
            r["trigger_offence"],
            r["offences"] == 0,
            r["inspector_decision"],
        )
        for r in rows
    ]


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(x) for x in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


async def k1_rows(
    conn: asyncpg.Connection, first: date, last: date, baseline_month: str | None
) -> list[K1Row]:
    """K1 rows for the months from ``first`` to ``last``, each compared with ``baseline_month`` (which may lie
    outside the range; its own rows are included)."""
    arrests = {a.detention_id: a for a in await _arrests(conn, first, last)}
    if baseline_month:
        arrests.update({a.detention_id: a for a in await _arrests(conn, *month_bounds(baseline_month))})
    chosen = list(arrests.values())
    rows = k1(chosen, await _periods_of(conn, {a.person_id for a in chosen}), baseline_month=baseline_month)
    wanted = (month_of(first), month_of(last))
    return [r for r in rows if wanted[0] <= r.month <= wanted[1] or r.month == baseline_month]


async def k2_rows(conn: asyncpg.Connection, first: date, last: date) -> list[K2Row]:
    arrests = await _arrests(conn, first, last)
    rows = await conn.fetch(
        "SELECT detention_id, person_id, charged_on, codes FROM charges WHERE charged_on BETWEEN $1 AND $2",
        first, last,
    )  # fmt: skip
    charges = [
        Charge(r["detention_id"], r["person_id"], r["charged_on"], frozenset(r["codes"])) for r in rows
    ]
    people = {a.person_id for a in arrests} | {c.person_id for c in charges}
    return k2(arrests, charges, await _periods_of(conn, people))

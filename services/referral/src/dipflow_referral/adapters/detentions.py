"""The custody facts the referral service keeps per detention (``detentions``), written as custody's events are
consumed: a fact arriving before its booking still finds a row (``ensure``).

A transaction reads (and locks) a detention's row once, holds it in the memo and changes it there; each change
queues the whole row (:meth:`dipflow.db.appends.Writes.execute_last`), so a consumer's batch writes each
detention it touched once, at its end (or at a flush before it), however many of its facts the batch held.

The whole row is written back, so this relies on one writer: only the custody-events consumer writes these rows,
a detention's facts share its person's partition, and two instances overlapping on a batch (a rebalance) wait
on each other's inbox rows, so the second applies nothing. A row that did not exist when read is not locked
until it is inserted; the same single writer is what keeps another insert of it from landing in between."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import datetime

from dipflow.uow import UnitOfWork
from dipflow_referral.domain.detention import Detention


@dataclass
class _Row:
    """A ``detentions`` row: the fields name its columns (the order of the upsert's parameters)."""

    detention_id: str
    person_id: str
    suite: str | None = None
    suite_area: str | None = None
    home_area: str | None = None
    age: int | None = None
    arrested_at: datetime | None = None
    is_ppo: bool | None = None
    released_at: datetime | None = None
    charged_at: datetime | None = None
    charged_codes: list[str] = field(default_factory=list)
    restriction_notified: bool | None = None
    class_a_offence_codes: list[str] = field(default_factory=list)
    positive_drugs: list[str] = field(default_factory=list)
    sample_taken_at: datetime | None = None
    offence_codes: list[str] = field(default_factory=list)


_COLUMNS = [f.name for f in fields(_Row)]
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM detentions WHERE detention_id = $1"
_SELECT_ANY = f"SELECT {', '.join(_COLUMNS)} FROM detentions WHERE detention_id = ANY($1::text[])"
_UPSERT = (
    f"INSERT INTO detentions ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_COLUMNS) + 1))}) ON CONFLICT (detention_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[2:])
)


def _key(detention_id: str) -> tuple[str, str]:
    return ("detention row", detention_id)


async def _held(uow: UnitOfWork, detention_id: str) -> _Row | None:
    """The row as this transaction holds it to change it: read and locked on first use (``FOR NO KEY UPDATE``,
    the lock an ``UPDATE`` of it takes), then from the memo (None for a row that does not exist yet)."""
    key = _key(detention_id)
    if key not in uow.memo:
        r = await uow.conn.fetchrow(_SELECT + " FOR NO KEY UPDATE", detention_id)
        uow.memo[key] = None if r is None else _Row(*r.values())
    row: _Row | None = uow.memo[key]
    return row


async def read_ahead(uow: UnitOfWork, detention_ids: Collection[str]) -> None:
    """The rows of ``detention_ids`` read and locked at once, in id order, and held as :func:`_held` holds them
    (one statement for a consumer's batch instead of one per detention)."""
    wanted = sorted({d for d in detention_ids if _key(d) not in uow.memo})
    if not wanted:
        return
    rows = await uow.conn.fetch(_SELECT_ANY + " ORDER BY detention_id FOR NO KEY UPDATE", wanted)
    found = {r["detention_id"]: _Row(*r.values()) for r in rows}
    for detention_id in wanted:
        uow.memo[_key(detention_id)] = found.get(detention_id)


async def _save(uow: UnitOfWork, row: _Row) -> None:
    """The whole row queued, superseding what this transaction queued of it before."""
    await uow.writes.execute_last(_key(row.detention_id), _UPSERT, *(getattr(row, c) for c in _COLUMNS))


async def booked_in(
    uow: UnitOfWork,
    detention_id: str,
    person_id: str,
    *,
    suite: str,
    suite_area: str | None,
    home_area: str,
    age: int,
    arrested_at: datetime,
    is_ppo: bool | None = None,
) -> None:
    row = await _held(uow, detention_id) or _Row(detention_id, person_id)
    row.suite, row.home_area, row.age, row.arrested_at = suite, home_area, age, arrested_at
    row.suite_area = suite_area if suite_area is not None else row.suite_area
    row.is_ppo = is_ppo if is_ppo is not None else row.is_ppo
    uow.memo[_key(detention_id)] = row
    await _save(uow, row)


async def ensure(uow: UnitOfWork, detention_id: str, person_id: str, suite: str) -> None:
    """The detention's row exists (written at most once per transaction: a batch's later facts of the same
    detention find it held)."""
    if await _held(uow, detention_id) is None:
        row = _Row(detention_id, person_id, suite)
        uow.memo[_key(detention_id)] = row
        await _save(uow, row)


async def offence_added(uow: UnitOfWork, detention_id: str, code: str, *, class_a: bool) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.offence_codes = [*row.offence_codes, code]
        if class_a:
            row.class_a_offence_codes = [*row.class_a_offence_codes, code]
        await _save(uow, row)


async def sample_taken(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.sample_taken_at = row.sample_taken_at or at
        await _save(uow, row)


async def positive(uow: UnitOfWork, detention_id: str, drug: str, home_area: str) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.positive_drugs = [*(d for d in row.positive_drugs if d != drug), drug]
        row.home_area = row.home_area if row.home_area is not None else home_area
        await _save(uow, row)


async def negative(uow: UnitOfWork, detention_id: str, drug: str) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.positive_drugs = [d for d in row.positive_drugs if d != drug]
        await _save(uow, row)


async def charged(
    uow: UnitOfWork,
    detention_id: str,
    *,
    at: datetime,
    codes: list[str],
    restriction_notified: bool | None,
    home_area: str | None,
    age: int | None,
) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.charged_at, row.charged_codes, row.restriction_notified = at, list(codes), restriction_notified
        row.home_area = home_area if home_area is not None else row.home_area
        row.age = age if age is not None else row.age
        await _save(uow, row)


async def released(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    if (row := await _held(uow, detention_id)) is not None:
        row.released_at = at
        await _save(uow, row)


async def load(uow: UnitOfWork, detention_id: str) -> Detention | None:
    """As this transaction holds it, or as this transaction sees it (read without a lock, and not held)."""
    key = _key(detention_id)
    row = uow.memo.get(key)
    if row is None:
        if key in uow.memo:
            return None
        r = await uow.conn.fetchrow(_SELECT, detention_id)
        if r is None:
            return None
        row = _Row(*r.values())
    return Detention(
        detention_id=row.detention_id,
        person_id=row.person_id,
        suite=row.suite,
        suite_area=row.suite_area,
        home_area=row.home_area,
        age=row.age,
        arrested_at=row.arrested_at,
        released_at=row.released_at,
        charged_at=row.charged_at,
        charged_codes=frozenset(row.charged_codes),
        restriction_notified=row.restriction_notified,
        class_a_offence_codes=frozenset(row.class_a_offence_codes),
        positive_drugs=frozenset(row.positive_drugs),
    )

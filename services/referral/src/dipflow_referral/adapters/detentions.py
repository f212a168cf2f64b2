"""The custody facts the referral service keeps per detention (``detentions``), written as custody's events are
consumed: a fact arriving before its booking still finds a row (``ensure``)."""

from __future__ import annotations

from datetime import datetime

from dipflow.uow import UnitOfWork
from dipflow_referral.domain.detention import Detention


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
    await uow.conn.execute(
        "INSERT INTO detentions (detention_id, person_id, suite, suite_area, home_area, age, arrested_at, is_ppo) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (detention_id) DO UPDATE SET suite = $3, "
        "suite_area = coalesce($4, detentions.suite_area), home_area = $5, age = $6, arrested_at = $7, "
        "is_ppo = coalesce($8, detentions.is_ppo)",
        detention_id,
        person_id,
        suite,
        suite_area,
        home_area,
        age,
        arrested_at,
        is_ppo,
    )
    uow.memo[_known(detention_id)] = True


async def ensure(uow: UnitOfWork, detention_id: str, person_id: str, suite: str) -> None:
    """The detention's row exists (written at most once per transaction: a batch's later facts of the same
    detention find it known)."""
    if _known(detention_id) in uow.memo:
        return
    await uow.conn.execute(
        "INSERT INTO detentions (detention_id, person_id, suite) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        detention_id,
        person_id,
        suite,
    )
    uow.memo[_known(detention_id)] = True


def _known(detention_id: str) -> tuple[str, str]:
    return ("detention row", detention_id)


async def offence_added(uow: UnitOfWork, detention_id: str, code: str, *, class_a: bool) -> None:
    await uow.conn.execute(
        "UPDATE detentions SET offence_codes = array_append(offence_codes, $2), class_a_offence_codes = "
        "CASE WHEN $3 THEN array_append(class_a_offence_codes, $2) ELSE class_a_offence_codes END "
        "WHERE detention_id = $1",
        detention_id,
        code,
        class_a,
    )


async def sample_taken(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    await uow.conn.execute(
        "UPDATE detentions SET sample_taken_at = coalesce(sample_taken_at, $2) WHERE detention_id = $1",
        detention_id,
        at,
    )


async def positive(uow: UnitOfWork, detention_id: str, drug: str, home_area: str) -> None:
    await uow.conn.execute(
        "UPDATE detentions SET positive_drugs = array_append(array_remove(positive_drugs, $2), $2), "
        "home_area = coalesce(home_area, $3) WHERE detention_id = $1",
        detention_id,
        drug,
        home_area,
    )


async def negative(uow: UnitOfWork, detention_id: str, drug: str) -> None:
    await uow.conn.execute(
        "UPDATE detentions SET positive_drugs = array_remove(positive_drugs, $2) WHERE detention_id = $1",
        detention_id,
        drug,
    )


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
    await uow.conn.execute(
        "UPDATE detentions SET charged_at = $2, charged_codes = $3, restriction_notified = $4, "
        "home_area = coalesce($5, home_area), age = coalesce($6, age) WHERE detention_id = $1",
        detention_id,
        at,
        codes,
        restriction_notified,
        home_area,
        age,
    )


async def released(uow: UnitOfWork, detention_id: str, at: datetime) -> None:
    await uow.conn.execute("UPDATE detentions SET released_at = $2 WHERE detention_id = $1", detention_id, at)


async def load(uow: UnitOfWork, detention_id: str) -> Detention | None:
    r = await uow.conn.fetchrow(
        "SELECT detention_id, person_id, suite, suite_area, home_area, age, arrested_at, released_at, charged_at, "
        "charged_codes, restriction_notified, class_a_offence_codes, positive_drugs FROM detentions "
        "WHERE detention_id = $1",
        detention_id,
    )
    if r is None:
        return None
    return Detention(
        detention_id=r["detention_id"],
        person_id=r["person_id"],
        suite=r["suite"],
        suite_area=r["suite_area"],
        home_area=r["home_area"],
        age=r["age"],
        arrested_at=r["arrested_at"],
        released_at=r["released_at"],
        charged_at=r["charged_at"],
        charged_codes=frozenset(r["charged_codes"]),
        restriction_notified=r["restriction_notified"],
        class_a_offence_codes=frozenset(r["class_a_offence_codes"]),
        positive_drugs=frozenset(r["positive_drugs"]),
    )

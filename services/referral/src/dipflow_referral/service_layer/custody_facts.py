"""Custody's facts, as the referral service keeps them from ``custody.events.v1``, each in the consumer's unit of
work: the detention's facts are recorded first, then what they decide: required assessments (A1, A3, A6, T12)
and restriction on bail (B1, B4). A fact that arrives before its booking still finds the detention."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import detentions
from dipflow_referral.domain.assessment import PositiveResult
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.domain.bail import BAIL_CONDITION_ARREST, is_class_a_possession
from dipflow_referral.service_layer import assessments, bail_cases


@dataclass(frozen=True)
class Booking:
    detention_id: str
    person_id: str
    suite: str
    suite_area: str | None
    home_area: str
    age: int
    arrested_at: datetime
    is_ppo: bool | None = None


async def booked_in(uow: UnitOfWork, booking: Booking) -> None:
    await detentions.booked_in(
        uow,
        booking.detention_id,
        booking.person_id,
        suite=booking.suite,
        suite_area=booking.suite_area,
        home_area=booking.home_area,
        age=booking.age,
        arrested_at=booking.arrested_at,
        is_ppo=booking.is_ppo,
    )


@dataclass(frozen=True)
class OffenceRecorded:
    detention_id: str
    person_id: str
    suite: str
    code: str
    trigger_offence: bool
    at: datetime


async def offence_added(uow: UnitOfWork, offence: OffenceRecorded) -> None:
    """B1: a Class A possession offence is kept as such; B4: an arrest for breaking a bail condition is the
    arrest a recorded breach awaits."""
    await detentions.ensure(uow, offence.detention_id, offence.person_id, offence.suite)
    class_a = is_class_a_possession(offence.code, offence.trigger_offence)
    await detentions.offence_added(uow, offence.detention_id, offence.code, class_a=class_a)
    if offence.code == BAIL_CONDITION_ARREST:
        detention = await detentions.load(uow, offence.detention_id)
        arrested_at = (detention.arrested_at if detention else None) or offence.at
        await bail_cases.on_breach_arrest(uow, offence.person_id, offence.detention_id, arrested_at)


async def read_ahead(
    uow: UnitOfWork, detention_ids: Collection[str], assessments_of: Collection[str]
) -> None:
    """The detentions of ``detention_ids`` and the assessments of the detentions ``assessments_of``, each read
    and locked at once (a consumer's batch, before its first fact: one statement each instead of one per fact)."""
    await detentions.read_ahead(uow, detention_ids)
    await assessments.read_ahead(uow, assessments_of)


async def sample_taken(uow: UnitOfWork, detention_id: str, person_id: str, suite: str, at: datetime) -> None:
    await detentions.ensure(uow, detention_id, person_id, suite)
    await detentions.sample_taken(uow, detention_id, at)


async def positive_result(uow: UnitOfWork, result: PositiveResult, policy: AppointmentPolicy) -> None:
    """A1 (a required assessment where the gate allows it), and B1 again."""
    await detentions.ensure(uow, result.detention_id, result.person_id, result.suite)
    await detentions.positive(uow, result.detention_id, result.drug, result.home_area)
    await assessments.on_positive(uow, result, policy)
    await bail_cases.reevaluate(uow, result.detention_id, result.at)


async def sample_dispatched(
    uow: UnitOfWork, detention_id: str, at: datetime, policy: AppointmentPolicy
) -> None:
    await assessments.on_sample_dispatched(uow, detention_id, at, policy)


async def confirmed_negative(uow: UnitOfWork, detention_id: str, drug: str, at: datetime) -> None:
    """A6, and B1 again (the positive is gone)."""
    await detentions.negative(uow, detention_id, drug)
    await assessments.on_confirmed_negative(uow, detention_id, drug, at)
    await bail_cases.reevaluate(uow, detention_id, at)


@dataclass(frozen=True)
class Charge:
    detention_id: str
    person_id: str
    suite: str
    codes: list[str]
    restriction_notified: bool | None
    home_area: str | None
    age: int | None
    at: datetime


async def charged(uow: UnitOfWork, charge: Charge) -> None:
    """B1: a charge opens (or changes) the restriction-on-bail case."""
    await detentions.ensure(uow, charge.detention_id, charge.person_id, charge.suite)
    await detentions.charged(
        uow,
        charge.detention_id,
        at=charge.at,
        codes=charge.codes,
        restriction_notified=charge.restriction_notified,
        home_area=charge.home_area,
        age=charge.age,
    )
    await bail_cases.reevaluate(uow, charge.detention_id, charge.at)


async def released(uow: UnitOfWork, detention_id: str, person_id: str, suite: str, at: datetime) -> None:
    """A1: a requirement not imposed by now lapses."""
    await detentions.ensure(uow, detention_id, person_id, suite)
    await detentions.released(uow, detention_id, at)
    await assessments.on_released(uow, detention_id, at)

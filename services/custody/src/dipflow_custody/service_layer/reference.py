"""Reference data a force runs itself (docs/rules.md T1, T2): areas, custody suites and their notifications, and
reference reads. Admins change them (one at a time or by CSV, a bad file changes nothing); each change is a new
version, audited, and the changed area or suite goes out whole (history and notifications) on ``reference.v1``
for every service's copy. A new borough goes live by data alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from dipflow import ppo_copy, reference_copy
from dipflow.auth.principal import shipped_areas
from dipflow.errors import InvalidInput, NotFound
from dipflow.periods import Granularity, period_of, period_of_month, whole_periods
from dipflow.topics import REFERENCE
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day, london_today
from dipflow_custody.adapters import reference, views
from dipflow_custody.contracts.events import NotificationPeriodOut, RecordVersionOut, ReferenceRecord
from dipflow_custody.domain.catalogue import shipped_catalogue, shipped_drugs
from dipflow_custody.domain.compliance import COMPLIANCE_MEASURES, compliance_record
from dipflow_custody.domain.costs import Costs, K5Line, k5
from dipflow_custody.domain.detention import Stations
from dipflow_custody.domain.notifications import NotificationPeriod, Notified
from dipflow_custody.domain.reference import (
    Area,
    AreaKind,
    ImportKind,
    Suite,
    Version,
    check_area,
    check_suite,
    latest,
    parse_import,
)
from dipflow_custody.service_layer import catalogue


async def suite_area(uow: UnitOfWork, suite: str) -> str:
    found = await reference.current_suite(uow, suite)
    if found is None:
        raise NotFound("custody suite", suite)
    return found.borough


async def ppo_borough(uow: UnitOfWork, person_id: str) -> str | None:
    """The borough whose register holds the person now (None: not a PPO); the read is audited."""
    borough = await ppo_copy.borough_of(uow, person_id)
    await uow.audit("ppo_status.read", person_id)
    return borough


async def k5_lines(
    uow: UnitOfWork, since: date, until: date, per: Granularity, costs: Costs, covered: Callable[[str], bool]
) -> list[K5Line]:
    """K5 for the whole periods from ``since`` to ``until``, of the suites ``covered``: tests and their costs,
    a suite's set-up cost in the period of its first test."""
    first, last = whole_periods(since, until, per)
    tests: Counter[tuple[str, str]] = Counter()
    for r in await views.tests_by_suite_and_month(uow, first, last):
        if covered(r.suite):
            tests[(period_of_month(r.month, per), r.suite)] += r.tests
    return k5(tests, await views.first_tests(uow), per, costs)


@dataclass(frozen=True)
class TestingLine:
    period: str
    suite: str
    counts: dict[str, int]


async def testing_compliance(
    uow: UnitOfWork, since: date, until: date, per: Granularity
) -> list[TestingLine]:
    """The testing return for the whole periods from ``since`` to ``until``: each detention by the suite and
    the London day it was booked in, judged with the station notifications in force on its own days."""
    first, last = whole_periods(since, until, per)
    notified: dict[tuple[str, date], Notified] = {}

    async def on(suite: str, day: date) -> Notified:
        if (suite, day) not in notified:
            notified[(suite, day)] = await reference.notified(uow, suite, day)
        return notified[(suite, day)]

    table: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for d, day in await views.booked_in_between(uow, first, last):
        at_charge = await on(d.suite, london_day(d.charged_at)) if d.charged_at else None
        record = compliance_record(d, Stations(await on(d.suite, london_day(d.arrested_at)), at_charge))
        table[(period_of(day, per), d.suite)].update(record.counts())
    return [
        TestingLine(period, suite, {m: counts[m] for m in COMPLIANCE_MEASURES})
        for (period, suite), counts in sorted(table.items())
    ]


# -- areas and suites ----------------------------------------------------------------------------------------


def actor_of(uow: UnitOfWork) -> str:
    return uow.actor.subject if uow.actor is not None else f"system:{uow.producer.name}"


async def current_areas(uow: UnitOfWork) -> dict[str, Area]:
    found = {code: latest(v) for code, v in (await reference.histories(uow, "area")).items()}
    return {code: area for code, area in found.items() if area is not None}


async def current_suites(uow: UnitOfWork) -> dict[str, Suite]:
    found = {code: latest(v) for code, v in (await reference.histories(uow, "suite")).items()}
    return {code: suite for code, suite in found.items() if suite is not None}


async def history(uow: UnitOfWork, kind: str, code: str) -> list[Version[Any]]:
    versions = await reference.history(uow, kind, code)
    if not versions:
        raise NotFound(kind, code)
    return versions


async def define_area(uow: UnitOfWork, version: Version[Area]) -> Area:
    """Add an area or change one from a date: a borough names the force that covers it, a force itself."""
    area = version.value
    check_area(area, await current_areas(uow))
    body = {"name": area.name, "kind": str(area.kind), "force": area.force}
    await reference.record(uow, "area", area.code, version.effective_from, body, actor_of(uow))
    await uow.audit("area.define", detail={"code": area.code, "from": str(version.effective_from)})
    await publish(uow, "area", area.code)
    return area


async def define_suite(uow: UnitOfWork, version: Version[Suite]) -> Suite:
    """Add a custody suite or change one from a date (a move to another borough keeps the earlier borough for
    the detentions booked before it)."""
    suite = version.value
    check_suite(suite, await current_areas(uow))
    body = {"name": suite.name, "force": suite.force, "borough": suite.borough, "address": suite.address}
    await reference.record(uow, "suite", suite.code, version.effective_from, body, actor_of(uow))
    await uow.audit("suite.define", detail={"code": suite.code, "from": str(version.effective_from)})
    await publish(uow, "suite", suite.code)
    return suite


async def place_kind(uow: UnitOfWork, place: str) -> str:
    """Whether ``place`` is a suite or an area; a place neither is cannot be notified."""
    if place in await reference.histories(uow, "suite"):
        return "suite"
    if place in await reference.histories(uow, "area"):
        return "area"
    raise InvalidInput(
        f"no custody suite or area {place!r}", field="body.place", reason="not a suite or an area"
    )


async def publish(uow: UnitOfWork, kind: str, code: str) -> None:
    """The record of ``code`` (every version, its notifications) to ``reference.v1``, for every copy."""
    versions = await reference.history(uow, kind, code)
    notified = await reference.list_notifications(uow, code)
    record = ReferenceRecord(
        kind="area" if kind == "area" else "suite",
        code=code,
        versions=[
            RecordVersionOut(
                effective_from=v.effective_from,
                recorded_by=v.recorded_by,
                **{k: val for k, val in asdict(v.value).items() if k != "code"},
            )
            for v in versions
        ],
        notifications=[
            NotificationPeriodOut(kind=str(p.kind), valid_from=p.valid_from, valid_to=p.valid_to)
            for _, p in notified
        ],
    )
    await uow.emit(f"{kind}:{code}", [(record, datetime.now(UTC))], topic=REFERENCE.name)
    await reference_copy.keep(uow, record)


# -- the shipped data: the first import of an installation ---------------------------------------------------


def _shipped(name: str) -> str:
    return resources.files("dipflow_custody.data").joinpath(name).read_text(encoding="utf-8")


async def seed(uow: UnitOfWork) -> dict[str, int]:
    """Import the shipped data files for what has no record yet (areas, suites, notifications, offences, drugs),
    then publish every area and suite, so a new service's copy is complete. Safe to run on every start."""
    await reference.lock_for_seeding(uow)
    added: dict[str, int] = {}
    today = london_today()
    have = await reference.has_records(uow, "area")
    forces = shipped_areas()
    new_areas = [code for code in sorted(forces, key=lambda c: (forces[c] != c, c)) if code not in have]
    for code in new_areas:
        kind = AreaKind.force if forces[code] == code else AreaKind.borough
        body = {"name": code.replace("-", " ").title(), "kind": str(kind), "force": forces[code]}
        await reference.record(uow, "area", code, date(2000, 1, 1), body, "system:seed")
    added["areas"] = len(new_areas)
    have = await reference.has_records(uow, "suite")
    suites, _ = parse_import(ImportKind.suites, _shipped("suites.csv"), today)
    for _, version in suites:
        if version.value.code not in have:
            s = version.value
            body = {"name": s.name, "force": s.force, "borough": s.borough, "address": s.address}
            await reference.record(uow, "suite", s.code, version.effective_from, body, "system:seed")
    added["suites"] = len([1 for _, v in suites if v.value.code not in have])
    periods, _ = parse_import(ImportKind.notifications, _shipped("notifications.csv"), today)
    added["notifications"] = 0
    for _, period in periods:
        assert isinstance(period, NotificationPeriod)
        added["notifications"] += await reference.seed_notification(uow, period)
    have = await reference.has_records(uow, "offence")
    shipped = [t for t in shipped_catalogue() if t.code not in have]
    for t in shipped:
        body = {k: v for k, v in asdict(t).items() if k != "code"}
        await reference.record(uow, "offence", t.code, date(2000, 1, 1), body, "system:seed")
    added["offences"] = len(shipped)
    have = await reference.has_records(uow, "drug")
    drugs = [d for d in shipped_drugs() if d.name not in have]
    for drug in drugs:
        await reference.record(
            uow, "drug", drug.name, date(2000, 1, 1), catalogue.drug_body(drug), "system:seed"
        )
    added["drugs"] = len(drugs)
    for record_kind in ("area", "suite"):
        for code in sorted(await reference.histories(uow, record_kind)):
            await publish(uow, record_kind, code)
    await catalogue.refresh(uow)
    return added

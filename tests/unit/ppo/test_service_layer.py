"""The register's service layer with a fake repository and a fake unit of work: what a change commits (periods,
the compacted-topic status or tombstone, the audit row) and what it refuses, without a database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

import pytest

from dipflow.auth.principal import Principal, Role
from dipflow.errors import Forbidden, NotFound
from dipflow.topics import PPO_REGISTER
from dipflow_ppo_register.contracts.events import PpoStatus
from dipflow_ppo_register.domain.bulk import ImportRow
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand, open_period
from dipflow_ppo_register.service_layer import register
from tests.support.fakes import FakeUnitOfWork, fake_uow

COORDINATOR = Principal(subject="coord-1", role=Role.ppo_coordinator, area="camden")
CAMDEN = {"camden"}


class FakeRegister:
    """``dipflow_ppo_register.adapters.register`` over a list of periods."""

    def __init__(self, periods: Iterable[Period] = ()) -> None:
        self.periods = list(periods)

    async def lock_person(self, uow: FakeUnitOfWork, person_id: str) -> None:
        return None

    async def history(self, uow: FakeUnitOfWork, person_id: str, *, lock: bool = False) -> list[Period]:
        return sorted((p for p in self.periods if p.person_id == person_id), key=lambda p: p.start_date)

    async def start(self, uow: FakeUnitOfWork, period: Period) -> None:
        self.periods.append(period)

    async def end(self, uow: FakeUnitOfWork, person_id: str, day: date, reason: str, by: str) -> None:
        current = open_period(await self.history(uow, person_id))
        assert current is not None
        self.periods[self.periods.index(current)] = replace(
            current, end_date=day, end_reason=reason, ended_by=by
        )


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> FakeRegister:
    fake = FakeRegister()
    monkeypatch.setattr(register, "register", fake)
    return fake


def covers(area: str) -> bool:
    return area in CAMDEN


def on(person: str, borough: str, strand: Strand, start: date) -> register.AddToRegister:
    return register.AddToRegister(person, borough, strand, start, "panel decision")


async def test_p1_adding_a_person_commits_the_period_the_status_and_the_audit(repo: FakeRegister) -> None:
    uow = fake_uow(COORDINATOR)
    await register.add(uow, on("08/1X", "camden", Strand.catch_and_convict, date(2008, 1, 7)), covers)

    assert [(p.borough, p.start_date, p.end_date, p.added_by) for p in repo.periods] == [
        ("camden", date(2008, 1, 7), None, "coord-1")
    ]
    assert uow.payloads() == [
        PpoStatus(borough="camden", strand=Strand.catch_and_convict, start_date=date(2008, 1, 7))
    ]
    assert [a[:2] for a in uow.audits] == [("register.add", "08/1X")]


async def test_p1_a_change_of_strand_ends_the_open_period_the_day_before(repo: FakeRegister) -> None:
    uow = fake_uow(COORDINATOR)
    await register.add(uow, on("08/1X", "camden", Strand.catch_and_convict, date(2008, 1, 7)), covers)
    await register.add(uow, on("08/1X", "camden", Strand.rehabilitate_and_resettle, date(2008, 3, 1)), covers)

    assert [(p.strand, p.start_date, p.end_date) for p in repo.periods] == [
        (Strand.catch_and_convict, date(2008, 1, 7), date(2008, 2, 29)),
        (Strand.rehabilitate_and_resettle, date(2008, 3, 1), None),
    ]


async def test_a_move_is_decided_by_the_coordinators_of_the_current_borough(repo: FakeRegister) -> None:
    repo.periods.append(
        Period("08/1X", "lambeth", Strand.catch_and_convict, date(2008, 1, 7), None, "x", "c2")
    )
    uow = fake_uow(COORDINATOR)
    with pytest.raises(Forbidden):
        await register.add(uow, on("08/1X", "camden", Strand.catch_and_convict, date(2008, 3, 1)), covers)
    assert uow.events == [] and len(repo.periods) == 1


async def test_p1_taking_off_commits_a_tombstone_not_a_status(repo: FakeRegister) -> None:
    uow = fake_uow(COORDINATOR)
    await register.add(uow, on("08/1X", "camden", Strand.catch_and_convict, date(2008, 1, 7)), covers)
    await register.remove(uow, register.TakeOffRegister("08/1X", date(2008, 6, 30), "deselected"), covers)

    assert uow.tombstones == [(PPO_REGISTER.name, "08/1X")]
    assert repo.periods[0].end_date == date(2008, 6, 30)


async def test_p1_taking_off_someone_not_on_the_register_is_not_found(repo: FakeRegister) -> None:
    with pytest.raises(NotFound):
        await register.remove(
            fake_uow(COORDINATOR), register.TakeOffRegister("08/1X", date(2008, 6, 30), "x"), covers
        )


async def test_p1_an_end_before_the_start_is_refused_with_the_field(repo: FakeRegister) -> None:
    uow = fake_uow(COORDINATOR)
    await register.add(uow, on("08/1X", "camden", Strand.catch_and_convict, date(2008, 1, 7)), covers)
    with pytest.raises(RegisterRuleBroken) as refused:
        await register.remove(uow, register.TakeOffRegister("08/1X", date(2007, 12, 1), "x"), covers)
    assert (refused.value.rule_id, refused.value.field) == ("P1", "end_date")
    assert uow.tombstones == []


async def test_import_reports_rows_outside_the_callers_areas_and_applies_the_rest(repo: FakeRegister) -> None:
    rows = [
        ImportRow(2, "08/1X", "camden", Strand.catch_and_convict, date(2008, 1, 7), None, "panel"),
        ImportRow(3, "08/2Y", "lambeth", Strand.catch_and_convict, date(2008, 1, 7), None, "panel"),
    ]
    report = await register.import_rows(fake_uow(COORDINATOR), rows, covers)

    assert (report.added, [(e.line, e.field) for e in report.errors]) == (1, [(3, "borough")])
    assert [p.person_id for p in repo.periods] == ["08/1X"]

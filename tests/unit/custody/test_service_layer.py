"""The custody service layer with fake repositories and a fake unit of work: what a book-in and an action commit
(events in order, hold and confirmation timers, the audit row) and what they refuse, without a database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from dipflow.errors import NotFound
from dipflow_custody.contracts import events as wire
from dipflow_custody.domain.catalogue import (
    OffenceIntake,
    ReferenceSnapshot,
    current_reference,
    install_reference,
    shipped_catalogue,
    shipped_drugs,
)
from dipflow_custody.domain.deadlines import CONFIRMATION_DUE, HOLD_AFTER_CHARGE, HOLD_PRE_CHARGE
from dipflow_custody.domain.detention import Detention, DrugResult, ResultValue
from dipflow_custody.domain.notifications import NotificationKind, Notified
from dipflow_custody.domain.reference import Suite
from dipflow_custody.service_layer import catalogue, detentions
from dipflow_custody.service_layer.actions import Action
from tests.support.fakes import FakeUnitOfWork, fake_uow

T0 = datetime(2008, 6, 2, 10, tzinfo=UTC)
BOOKED = T0 + timedelta(minutes=10)
SUITE = "MET-BRIXTON"


class FakeDetentions:
    """``dipflow_custody.adapters.repository`` over a dict, with a version per detention."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Detention, int, str]] = {}

    async def insert(self, uow: FakeUnitOfWork, d: Detention, name: str, force: str, area: str) -> None:
        self.rows[d.detention_id] = (d, 1, area)

    async def load(
        self, uow: FakeUnitOfWork, detention_id: str, *, lock: bool = True
    ) -> tuple[Detention, int, str] | None:
        return self.rows.get(detention_id)

    async def save(self, uow: FakeUnitOfWork, d: Detention, version: int) -> None:
        _, _, area = self.rows[d.detention_id]
        self.rows[d.detention_id] = (d, version + 1, area)


class FakeReference:
    """``dipflow_custody.adapters.reference``: Brixton (lambeth, metropolitan) notified for everything since 2004;
    the managed catalogue and vocabulary never changed (version 0: the shipped ones)."""

    async def suite_on(self, uow: FakeUnitOfWork, suite: str, on: date) -> Suite | None:
        return Suite(SUITE, "Brixton", "metropolitan", "lambeth") if suite == SUITE else None

    async def version(self, uow: FakeUnitOfWork) -> int:
        return 0

    async def known_suites(self, uow: FakeUnitOfWork) -> list[str]:
        return [SUITE]

    async def notified(self, uow: FakeUnitOfWork, place: str, on: date) -> Notified:
        return Notified(place, on, frozenset(NotificationKind) if on >= date(2004, 1, 1) else frozenset())


class NoPpoCopy:
    async def is_ppo(self, uow: FakeUnitOfWork, person_id: str) -> bool:
        return False


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDetentions]:
    before = current_reference()
    install_reference(ReferenceSnapshot(0, shipped_catalogue(), shipped_drugs()))  # FakeReference's version
    fake = FakeDetentions()
    monkeypatch.setattr(detentions, "detentions", fake)
    monkeypatch.setattr(detentions, "reference", FakeReference())
    monkeypatch.setattr(catalogue, "reference", FakeReference())
    monkeypatch.setattr(detentions, "ppo_copy", NoPpoCopy())
    yield fake
    install_reference(before)


def booking(suite: str = SUITE, code: str = "TA1968-s1") -> detentions.BookIn:
    return detentions.BookIn(
        person_id="08/123456X",
        name="A Person",
        date_of_birth=date(1980, 1, 1),
        home_area="lambeth",
        suite=suite,
        arrested_at=T0,
        booked_in_at=BOOKED,
        offences=[OffenceIntake(T0.date(), code=code)],
        detention_id="D1",
    )


def anywhere(area: str) -> None:
    return None


def act(name: str, action: Action, keyed_by: str | None = None) -> detentions.Act:
    return detentions.Act("D1", name, action, keyed_by=keyed_by)


async def test_t2_t10_booking_in_for_a_trigger_offence_emits_in_order_and_holds_until_the_relevant_time(
    repo: FakeDetentions,
) -> None:
    uow = fake_uow()
    outcome = await detentions.book_in(uow, booking(), anywhere)

    assert [type(p) for p in uow.payloads()][:2] == [wire.DetentionBookedIn, wire.OffenceAdded]
    assert isinstance(uow.payloads()[2], wire.EligibilityDecided)
    assert {e.occurred_at for e in uow.events} == {BOOKED}
    # relevant time = booking-in (earlier than arrest + 24 h): the pre-charge hold ends 24 h after it
    assert uow.scheduled[(HOLD_PRE_CHARGE, "D1")][0] == BOOKED + timedelta(hours=24)
    assert uow.cancelled == []  # a detention booked in this unit of work has no timer to cancel
    assert outcome.area == "lambeth" and repo.rows["D1"][2] == "lambeth"
    assert [a[0] for a in uow.audits] == ["detention.book_in"]


async def test_booking_in_at_an_unknown_suite_names_the_known_ones_and_commits_nothing(
    repo: FakeDetentions,
) -> None:
    uow = fake_uow()
    with pytest.raises(detentions.UnknownSuite) as refused:
        await detentions.book_in(uow, booking(suite="MET-NOWHERE"), anywhere)
    assert SUITE in refused.value.reason
    assert (uow.events, repo.rows) == ([], {})


async def test_booking_in_is_refused_before_anything_is_written_when_the_caller_does_not_cover_the_suite(
    repo: FakeDetentions,
) -> None:
    def camden_only(area: str) -> None:
        raise PermissionError(area)

    uow = fake_uow()
    with pytest.raises(PermissionError):
        await detentions.book_in(uow, booking(), camden_only)
    assert (uow.events, repo.rows, uow.scheduled) == ([], {}, {})


async def test_a_charge_moves_the_hold_from_pre_charge_to_after_charge(repo: FakeDetentions) -> None:
    await detentions.book_in(fake_uow(), booking(), anywhere)
    uow = fake_uow()
    await detentions.act(
        uow, act("charge", lambda d, _: d.charge({"TA1968-s1"}, T0 + timedelta(hours=2))), anywhere
    )

    assert (HOLD_PRE_CHARGE, "D1") in uow.cancelled
    assert uow.scheduled[(HOLD_AFTER_CHARGE, "D1")][0] == T0 + timedelta(hours=8)
    assert repo.rows["D1"][1] == 2  # saved with the next version


async def test_t9_t10_a_hold_timer_is_written_only_when_it_changes(repo: FakeDetentions) -> None:
    """Set at book-in, moved by a charge, cancelled by the sample; a warning before and a result after change no
    timer, and nothing is written for them."""
    await detentions.book_in(fake_uow(), booking(), anywhere)
    steps: list[tuple[str, Action]] = [
        ("warning", lambda d, _: d.give_warning(BOOKED)),
        ("charge", lambda d, _: d.charge({"TA1968-s1"}, T0 + timedelta(hours=2))),
        ("samples", lambda d, s: d.take_sample(s, T0 + timedelta(hours=3), "saliva")),
        (
            "results",
            lambda d, _: d.record_result(
                DrugResult("cocaine", ResultValue.negative), T0 + timedelta(hours=4)
            ),
        ),
    ]
    written = {}
    for name, step in steps:
        uow = fake_uow()
        await detentions.act(uow, act(name, step), anywhere)
        written[name] = (sorted(k for k, _ in uow.scheduled), sorted(k for k, _ in uow.cancelled))
    assert written == {
        "warning": ([], []),
        "charge": ([HOLD_AFTER_CHARGE], [HOLD_PRE_CHARGE]),
        "samples": ([], [HOLD_AFTER_CHARGE]),
        "results": ([], []),
    }


async def test_t9_t10_a_detention_recorded_before_its_hold_timers_were_kept_writes_each_once(
    repo: FakeDetentions,
) -> None:
    await detentions.book_in(fake_uow(), booking(), anywhere)
    repo.rows["D1"][0].hold_timers = None  # as read from a document saved before they were kept
    first, second = fake_uow(), fake_uow()
    await detentions.act(first, act("warning", lambda d, _: d.give_warning(BOOKED)), anywhere)
    await detentions.act(second, act("warning", lambda d, _: d.give_warning(BOOKED)), anywhere)
    assert first.scheduled[(HOLD_PRE_CHARGE, "D1")][0] == BOOKED + timedelta(hours=24)
    assert first.cancelled == [(HOLD_AFTER_CHARGE, "D1")]
    assert (second.scheduled, second.cancelled) == ({}, [])


async def test_a_command_keyed_by_another_person_is_refused_and_nothing_is_saved(
    repo: FakeDetentions,
) -> None:
    await detentions.book_in(fake_uow(), booking(), anywhere)
    uow = fake_uow()
    with pytest.raises(detentions.NotThisPersons):
        await detentions.act(
            uow, act("warning", lambda d, _: d.give_warning(BOOKED), keyed_by="09/1Y"), anywhere
        )
    assert uow.events == [] and repo.rows["D1"][1] == 1


async def test_an_action_on_an_unknown_detention_is_not_found(repo: FakeDetentions) -> None:
    with pytest.raises(NotFound):
        await detentions.act(fake_uow(), act("warning", lambda d, _: d.give_warning(BOOKED)), anywhere)


async def test_t12_dispatch_schedules_the_confirmation_and_the_last_confirmatory_result_cancels_it(
    repo: FakeDetentions,
) -> None:
    await detentions.book_in(fake_uow(), booking(), anywhere)
    steps: list[tuple[str, Action]] = [
        ("warning", lambda d, _: d.give_warning(BOOKED)),
        ("samples", lambda d, s: d.take_sample(s, T0 + timedelta(hours=1), "saliva")),
        (
            "results",
            lambda d, _: d.record_result(
                DrugResult("cocaine", ResultValue.positive, disputed=True), T0 + timedelta(hours=2)
            ),
        ),
    ]
    for name, step in steps:
        await detentions.act(fake_uow(), act(name, step), anywhere)
    dispatched = fake_uow()
    sent = T0 + timedelta(hours=3)
    await detentions.act(
        dispatched, act("dispatch", lambda d, _: d.dispatch_for_confirmation(sent, working_days=5)), anywhere
    )
    due = dispatched.scheduled[(CONFIRMATION_DUE, "D1")][0]
    assert due.date() == date(2008, 6, 10)  # Mon 2 June + 5 working days ends with Mon 9 June

    confirmed = fake_uow()
    await detentions.act(
        confirmed,
        act(
            "confirmation",
            lambda d, _: d.record_confirmation("cocaine", ResultValue.positive, T0 + timedelta(days=3)),
        ),
        anywhere,
    )
    assert (CONFIRMATION_DUE, "D1") in confirmed.cancelled
    assert isinstance(confirmed.payloads()[0], wire.ConfirmatoryResultRecorded)


def test_every_domain_event_has_its_wire_event() -> None:
    from dipflow_custody.domain import events

    declared = {
        c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.DetentionEvent)
    }
    assert declared - {events.DetentionEvent} == set(detentions.WIRE)

"""Breach's service layer with fake repositories and a fake unit of work: what a compliance record, a due date, a
booking or a dropped prosecution commits (rows, events, timers, liaison notices, audit rows) and what it refuses,
without a database."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest

from dipflow.auth.principal import Principal, Role
from dipflow.errors import Forbidden, NotFound, RuleViolation
from dipflow.events import EventPayload
from dipflow.events.timers import Deadline
from dipflow_breach.contracts.events import (
    ArrestMade,
    ArrestRequestCancelled,
    ArrestRequested,
    ArrestRequestEscalated,
    ComplianceDecided,
    DeadlinePassed,
    ProceedingsStarted,
    WarningIssued,
)
from dipflow_breach.domain.arrests import (
    ARREST_TARGET,
    ArrestPolicy,
    ArrestRequest,
    Booking,
    RequestArrest,
    Source,
    end_of_day,
)
from dipflow_breach.domain.cases import ENFORCEMENT_DUE, HEARING_DUE, BreachCase
from dipflow_breach.domain.drr import (
    ComplianceEntry,
    ComplianceKind,
    Decision,
    FormalWarning,
    Order,
    Outcome,
)
from dipflow_breach.domain.notices import Notice
from dipflow_breach.service_layer import arrests, cases, notifications, orders
from dipflow_breach.service_layer.notifications import LIAISON_WEBHOOK
from tests.support.fakes import FakeUnitOfWork, fake_uow

LIAISON = Principal(subject="po-1", role=Role.probation_liaison, area="lambeth")
POLICY = ArrestPolicy(ppo_arrest_target_hours=24)
PERSON = "08/123456X"
ABSENT = ComplianceKind.unacceptable_absence
P = TypeVar("P", bound=EventPayload)


class FakeRepository:
    """``dipflow_breach.adapters.repository`` over dicts; what it hands out and keeps are copies, so a change
    the service does not save is lost, as it would be."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.compliance: dict[str, tuple[str, ComplianceEntry]] = {}
        self.warnings: dict[str, list[FormalWarning]] = {}
        self.cases: dict[str, BreachCase] = {}
        self.requests: dict[str, ArrestRequest] = {}
        self.bookings: dict[str, Booking] = {}
        self.ppos: set[str] = set()

    async def add_order(self, uow: FakeUnitOfWork, order: Order) -> bool:
        if order.order_id in self.orders:
            return False
        self.orders[order.order_id] = copy.deepcopy(order)
        return True

    async def load_order(self, uow: FakeUnitOfWork, order_id: str, *, lock: bool = True) -> Order | None:
        return copy.deepcopy(self.orders.get(order_id))

    async def save_order(self, uow: FakeUnitOfWork, order: Order) -> None:
        self.orders[order.order_id] = copy.deepcopy(order)

    async def area_of_order(self, uow: FakeUnitOfWork, order_id: str) -> str | None:
        found = self.orders.get(order_id)
        return found.area if found else None

    async def outcome_of_record(self, uow: FakeUnitOfWork, record_id: str) -> Outcome | None:
        if record_id not in self.compliance:
            return None
        entry = self.compliance[record_id][1]
        return Outcome(Decision(entry.decision), tuple(entry.rule_ids), entry.explanation)

    async def add_compliance(self, uow: FakeUnitOfWork, order_id: str, entry: ComplianceEntry) -> None:
        assert entry.record_id not in self.compliance, "a record is kept once"
        self.compliance[entry.record_id] = (order_id, entry)

    async def warning_days(self, uow: FakeUnitOfWork, order_id: str) -> list[date]:
        return [w.issued_on for w in self.warnings.get(order_id, [])]

    async def add_warning(self, uow: FakeUnitOfWork, order_id: str, warning: FormalWarning) -> None:
        self.warnings.setdefault(order_id, []).append(warning)

    async def has_open_case(self, uow: FakeUnitOfWork, order_id: str) -> bool:
        return any(c.order_id == order_id and c.closed_at is None for c in self.cases.values())

    async def add_case(self, uow: FakeUnitOfWork, case: BreachCase) -> None:
        self.cases[case.case_id] = copy.deepcopy(case)

    async def load_case(self, uow: FakeUnitOfWork, case_id: str) -> BreachCase | None:
        return copy.deepcopy(self.cases.get(case_id))

    load_case_for_timer = load_case

    async def save_case(self, uow: FakeUnitOfWork, case: BreachCase) -> None:
        self.cases[case.case_id] = copy.deepcopy(case)

    async def area_of_case(self, uow: FakeUnitOfWork, case_id: str) -> str | None:
        found = self.cases.get(case_id)
        return found.area if found else None

    async def add_request(self, uow: FakeUnitOfWork, request: ArrestRequest) -> bool:
        if any(
            (r.source, r.source_ref) == (request.source, request.source_ref) for r in self.requests.values()
        ):
            return False
        self.requests[request.request_id] = copy.deepcopy(request)
        return True

    async def lock_people(self, uow: FakeUnitOfWork, person_ids: Iterable[str]) -> None:
        """One transaction at a time here: nothing to wait for."""

    async def read_open_requests(self, uow: FakeUnitOfWork, person_ids: Iterable[str]) -> None:
        """Every read here is from the dicts."""

    async def open_requests_of(self, uow: FakeUnitOfWork, person_id: str) -> list[ArrestRequest]:
        mine = [r for r in self.requests.values() if r.person_id == person_id and r.is_open]
        return [copy.deepcopy(r) for r in sorted(mine, key=lambda r: r.requested_at)]

    async def load_request_for_timer(self, uow: FakeUnitOfWork, request_id: str) -> ArrestRequest | None:
        return copy.deepcopy(self.requests.get(request_id))

    async def save_request(self, uow: FakeUnitOfWork, request: ArrestRequest) -> None:
        self.requests[request.request_id] = copy.deepcopy(request)

    async def add_booking(self, uow: FakeUnitOfWork, booking: Booking) -> None:
        self.bookings.setdefault(booking.detention_id, booking)

    async def bookings_of(self, uow: FakeUnitOfWork, person_id: str) -> list[Booking]:
        return sorted(
            (b for b in self.bookings.values() if b.person_id == person_id), key=lambda b: b.arrested_at
        )

    async def is_ppo(self, uow: FakeUnitOfWork, person_id: str) -> bool:
        return person_id in self.ppos


class FakeFeed:
    """``dipflow_breach.adapters.feed``: the notices put in the feed, and the areas with a webhook."""

    def __init__(self, webhooks: Iterable[str] = ()) -> None:
        self.notices: list[Notice] = []
        self.webhooks = set(webhooks)
        self.first_attempts: list[tuple[str, str]] = []
        """(timer kind, subject) of each delivery queued with its notice."""

    async def add(self, uow: FakeUnitOfWork, notice: Notice, *, delivered_by: str | None = None) -> None:
        self.notices.append(notice)
        if delivered_by is not None:
            self.first_attempts.append((delivered_by, f"{len(self.notices)}:1"))

    async def has_webhook(self, uow: FakeUnitOfWork, area: str) -> bool:
        return area in self.webhooks

    def kinds(self) -> list[str]:
        return [n.kind for n in self.notices]


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> FakeRepository:
    fake = FakeRepository()
    for module in (orders, cases, arrests):
        monkeypatch.setattr(module, "repository", fake)
    return fake


@pytest.fixture
def feed(monkeypatch: pytest.MonkeyPatch) -> FakeFeed:
    fake = FakeFeed()
    monkeypatch.setattr(notifications, "feed", fake)
    return fake


def covers_lambeth(area: str) -> None:
    if area != "lambeth":
        raise Forbidden("this record belongs to an area you do not cover", kind="wrong-area")


def an_order(repo: FakeRepository, *, high_risk: bool = False, ended_on: date | None = None) -> Order:
    order = Order(
        order_id="DRR-1",
        person_id=PERSON,
        area="lambeth",
        court="Camberwell Green",
        start_date=date(2008, 1, 14),
        treatment_months=12,
        responsible_officer="PO Smith",
        high_risk=high_risk,
        ended_on=ended_on,
    )
    repo.orders[order.order_id] = order
    return order


def absent(on: date, record_id: str = "r1", *, straight_to_breach: bool = False) -> orders.RecordCompliance:
    return orders.RecordCompliance(
        order_id="DRR-1", record_id=record_id, kind=ABSENT, on=on, straight_to_breach=straight_to_breach
    )


async def record(uow: FakeUnitOfWork, command: orders.RecordCompliance) -> Outcome:
    return await orders.record_compliance(uow, command, POLICY, covers_lambeth)


def of_type(uow: FakeUnitOfWork, kind: type[P]) -> list[P]:
    return [p for p in uow.payloads() if isinstance(p, kind)]


async def test_d1_a_record_outside_the_orders_period_is_refused_and_nothing_is_written(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo, ended_on=date(2008, 6, 30))
    uow = fake_uow(LIAISON)
    for day in (date(2008, 1, 13), date(2008, 7, 1)):
        with pytest.raises(RuleViolation) as refused:
            await record(uow, absent(day))
        assert refused.value.rule_id == "D1"
    assert (repo.compliance, uow.events, uow.audits, feed.notices) == ({}, [], [], [])


async def test_d1_the_last_day_of_an_ended_order_is_within_its_period(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo, ended_on=date(2008, 6, 30))
    outcome = await record(fake_uow(LIAISON), absent(date(2008, 6, 30)))
    assert outcome.decision is Decision.warning


async def test_d2_a_first_failure_is_warned_kept_told_to_liaison_and_emitted(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    outcome = await record(uow, absent(date(2008, 3, 3)))

    assert (outcome.decision, outcome.rule_ids) == (Decision.warning, ("D1", "D2"))
    assert [w.issued_on for w in repo.warnings["DRR-1"]] == [date(2008, 3, 3)]
    assert [type(p) for p in uow.payloads()] == [ComplianceDecided, WarningIssued]
    assert of_type(uow, WarningIssued)[0].text == outcome.warning_text is not None
    assert feed.kinds() == ["warning"] and feed.notices[0].body["text"] == outcome.warning_text
    assert uow.audits == [("order.compliance", PERSON, {"order_id": "DRR-1", "decision": "warning"})]
    assert uow.scheduled == {}


async def test_d3_d4_a_further_failure_opens_a_case_with_both_due_timers_and_an_arrest_request(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    await record(uow, absent(date(2008, 3, 5), "r1"))
    outcome = await record(uow, absent(date(2009, 2, 2), "r2"))

    assert (outcome.decision, outcome.rule_ids) == (Decision.breach, ("D1", "D3", "D4"))
    (case,) = repo.cases.values()
    assert (case.enforcement_due, case.hearing_due, case.rule_ids) == (
        date(2009, 2, 16),
        date(2009, 3, 2),
        ["D1", "D3", "D4"],
    )
    (request,) = repo.requests.values()
    assert (request.source, request.source_ref, request.premium) == (Source.drr_breach, case.case_id, False)
    assert uow.scheduled.keys() == {
        (ENFORCEMENT_DUE, case.case_id),
        (HEARING_DUE, case.case_id),
        (ARREST_TARGET, request.request_id),
    }
    assert uow.scheduled[(HEARING_DUE, case.case_id)][0] == end_of_day(date(2009, 3, 2))
    assert uow.scheduled[(ARREST_TARGET, request.request_id)][0] == end_of_day(case.enforcement_due)
    assert [type(p) for p in uow.payloads()] == [
        ComplianceDecided,
        WarningIssued,
        ComplianceDecided,
        ProceedingsStarted,
        ArrestRequested,
    ]
    assert feed.kinds() == ["warning", "breach", "arrest_requested"]


async def test_d3_a_failure_while_proceedings_are_open_is_added_to_the_breach(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    await record(uow, absent(date(2008, 3, 5), "r1", straight_to_breach=True))
    outcome = await record(uow, absent(date(2008, 3, 12), "r2"))
    assert outcome.decision is Decision.added_to_breach and len(repo.cases) == 1


@pytest.mark.parametrize(("ppo", "high_risk"), [(True, False), (False, True)])
async def test_d5_a_breach_by_a_ppo_or_a_high_risk_offender_is_fast_tracked_and_told_at_once(
    repo: FakeRepository, feed: FakeFeed, ppo: bool, high_risk: bool
) -> None:
    an_order(repo, high_risk=high_risk)
    if ppo:
        repo.ppos.add(PERSON)
    uow = fake_uow(LIAISON)
    before = datetime.now(UTC)
    await record(uow, absent(date(2008, 6, 2), straight_to_breach=True))

    (case,) = repo.cases.values()
    assert "D5" in case.rule_ids and (case.ppo, case.high_risk) == (ppo, high_risk)
    (request,) = repo.requests.values()
    assert request.premium and "D5" in request.rule_ids and request.ppo is ppo
    assert timedelta(hours=24) <= request.deadline_at - before <= timedelta(hours=24, seconds=5)
    breach = next(n for n in feed.notices if n.kind == "breach")
    assert breach.body["fast_track"] is True


async def test_d5_without_ppo_status_or_a_high_risk_flag_there_is_no_fast_track(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo)
    await record(fake_uow(LIAISON), absent(date(2008, 6, 2), straight_to_breach=True))
    (case,) = repo.cases.values()
    (request,) = repo.requests.values()
    assert "D5" not in case.rule_ids and not request.premium


async def test_d5_flagging_high_risk_is_saved_on_the_order(repo: FakeRepository, feed: FakeFeed) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    await orders.flag_high_risk(uow, orders.FlagHighRisk("DRR-1", True), covers_lambeth)
    assert repo.orders["DRR-1"].high_risk is True
    assert uow.audits == [("order.high_risk", PERSON, {"high_risk": True})]


async def test_a_record_sent_again_gets_its_first_outcome_and_changes_nothing(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    first = await record(uow, absent(date(2008, 3, 3)))
    events = len(uow.events)
    again = await record(uow, absent(date(2008, 3, 3)))

    assert (again.decision, again.rule_ids) == (first.decision, first.rule_ids)
    assert len(uow.events) == events and len(repo.warnings["DRR-1"]) == 1 and feed.kinds() == ["warning"]


async def test_an_order_ends_once(repo: FakeRepository) -> None:
    an_order(repo)
    uow = fake_uow(LIAISON)
    await orders.end_order(uow, orders.EndOrder("DRR-1", date(2008, 6, 30), "completed"), covers_lambeth)
    await orders.end_order(uow, orders.EndOrder("DRR-1", date(2008, 7, 31), "again"), covers_lambeth)
    assert (repo.orders["DRR-1"].ended_on, repo.orders["DRR-1"].end_reason) == (
        date(2008, 6, 30),
        "completed",
    )


async def test_a_record_for_an_order_not_made_is_not_found(repo: FakeRepository) -> None:
    with pytest.raises(NotFound):
        await record(fake_uow(LIAISON), absent(date(2008, 3, 3)))


async def an_open_case(repo: FakeRepository, feed: FakeFeed) -> BreachCase:
    an_order(repo)
    await record(fake_uow(LIAISON), absent(date(2009, 2, 2), straight_to_breach=True))
    (case,) = repo.cases.values()
    return case


def due(kind: str, case: BreachCase) -> Deadline:
    return Deadline(1, kind, case.case_id, datetime.now(UTC), {})


async def test_d4_a_due_date_passed_with_nothing_recorded_escalates_to_liaison(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    case = await an_open_case(repo, feed)
    timer = fake_uow()
    await cases.on_case_deadline(timer, due(ENFORCEMENT_DUE, case))

    assert repo.cases[case.case_id].escalations == ["enforcement"]
    assert timer.payloads() == [
        DeadlinePassed(case_id=case.case_id, deadline="enforcement", due=date(2009, 2, 16))
    ]
    assert feed.notices[-1].kind == "enforcement_overdue" and feed.notices[-1].body["rule_ids"] == ["D4"]


async def test_d4_a_due_date_whose_step_was_recorded_does_not_escalate(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    case = await an_open_case(repo, feed)
    uow = fake_uow(LIAISON)
    at = datetime(2009, 2, 10, 10, tzinfo=UTC)
    await cases.record_enforcement(uow, cases.RecordEnforcement(case.case_id, "warrant", at), covers_lambeth)
    timer = fake_uow()
    await cases.on_case_deadline(timer, due(ENFORCEMENT_DUE, case))

    assert (ENFORCEMENT_DUE, case.case_id) in uow.cancelled
    assert timer.events == [] and repo.cases[case.case_id].escalations == []
    assert (repo.cases[case.case_id].enforcement, repo.cases[case.case_id].enforcement_at) == ("warrant", at)


async def test_d4_after_the_hearing_the_case_is_closed_and_neither_due_date_escalates(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    case = await an_open_case(repo, feed)
    uow = fake_uow(LIAISON)
    await cases.record_hearing(uow, cases.RecordHearing(case.case_id, date(2009, 2, 20)), covers_lambeth)
    timer = fake_uow()
    await cases.on_case_deadline(timer, due(ENFORCEMENT_DUE, case))
    await cases.on_case_deadline(timer, due(HEARING_DUE, case))

    assert timer.events == [] and repo.cases[case.case_id].escalations == []
    assert repo.cases[case.case_id].closed_at is not None and (HEARING_DUE, case.case_id) in uow.cancelled


async def test_d4_enforcement_and_hearing_are_authorised_before_anything_is_written(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    case = await an_open_case(repo, feed)
    uow = fake_uow(Principal(subject="po-2", role=Role.probation_liaison, area="camden"))
    at = datetime(2009, 2, 10, 10, tzinfo=UTC)

    def covers_camden(area: str) -> None:
        if area != "camden":
            raise Forbidden("this record belongs to an area you do not cover", kind="wrong-area")

    with pytest.raises(Forbidden):
        await cases.record_enforcement(
            uow, cases.RecordEnforcement(case.case_id, "warrant", at), covers_camden
        )
    with pytest.raises(Forbidden):
        await cases.record_hearing(uow, cases.RecordHearing(case.case_id, date(2009, 2, 20)), covers_camden)

    assert repo.cases[case.case_id] == case
    assert (uow.cancelled, uow.audits) == ([], [])


def wanted(source_ref: str, requested_at: datetime, source: Source = Source.bail_condition) -> RequestArrest:
    return RequestArrest(
        person_id=PERSON, source=source, source_ref=source_ref, area="lambeth", requested_at=requested_at
    )


async def test_d6_a_booking_closes_the_open_requests_made_before_it_with_the_time_to_arrest(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    booked = datetime(2008, 6, 2, 12, tzinfo=UTC)
    uow = fake_uow()
    await arrests.request_arrest(uow, wanted("D-before", booked - timedelta(hours=3)), POLICY)
    await arrests.request_arrest(uow, wanted("D-after", booked + timedelta(hours=1)), POLICY)
    closed = await arrests.on_booked_in(uow, Booking("D-9", PERSON, booked))

    assert closed == 1
    made = of_type(uow, ArrestMade)
    assert [(m.detention_id, m.hours_to_arrest, m.within_target) for m in made] == [("D-9", 3.0, True)]
    by_ref = {r.source_ref: r for r in repo.requests.values()}
    assert by_ref["D-before"].arrested_at == booked and by_ref["D-after"].is_open
    assert (ARREST_TARGET, by_ref["D-before"].request_id) in uow.cancelled
    assert (ARREST_TARGET, by_ref["D-after"].request_id) in uow.scheduled


async def test_d6_a_request_that_arrives_after_the_booking_that_answers_it_is_closed_at_once(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    booked = datetime(2008, 6, 2, 12, tzinfo=UTC)
    uow = fake_uow()
    await arrests.on_booked_in(uow, Booking("D-9", PERSON, booked))
    await arrests.request_arrest(uow, wanted("D-1", booked - timedelta(hours=3)), POLICY)

    assert [type(p) for p in uow.payloads()] == [ArrestRequested, ArrestMade]
    (request,) = repo.requests.values()
    assert request.arrest_detention_id == "D-9" and (ARREST_TARGET, request.request_id) not in uow.scheduled


async def test_one_request_per_source_reference(repo: FakeRepository, feed: FakeFeed) -> None:
    uow = fake_uow()
    at = datetime(2008, 6, 2, 12, tzinfo=UTC)
    await arrests.request_arrest(uow, wanted("D-1", at), POLICY)
    await arrests.request_arrest(uow, wanted("D-1", at + timedelta(minutes=5)), POLICY)
    assert len(repo.requests) == 1 and len(uow.events) == 1 and feed.kinds() == ["arrest_requested"]


async def test_d5_an_arrest_target_passed_with_no_arrest_escalates_once(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    await arrests.request_arrest(fake_uow(), wanted("D-1", datetime(2008, 6, 2, 12, tzinfo=UTC)), POLICY)
    (request,) = repo.requests.values()
    timer = fake_uow()
    deadline = Deadline(1, ARREST_TARGET, request.request_id, request.deadline_at, {})
    await arrests.on_arrest_deadline(timer, deadline)
    await arrests.on_arrest_deadline(timer, deadline)

    assert [type(p) for p in timer.payloads()] == [ArrestRequestEscalated]
    assert repo.requests[request.request_id].escalated_at is not None
    assert feed.kinds() == ["arrest_requested", "arrest_overdue"]


async def test_a6_a_dropped_prosecution_cancels_that_assessments_open_requests_only(
    repo: FakeRepository, feed: FakeFeed
) -> None:
    at = datetime(2008, 6, 2, 12, tzinfo=UTC)
    uow = fake_uow()
    for ref in ("A-1:DA05 s.12(3)", "A-10:DA05 s.12(3)", "A-2:DA05 s.14(3)"):
        await arrests.request_arrest(uow, wanted(ref, at, Source.assessment_failure), POLICY)
    await arrests.request_arrest(uow, wanted("A-1:DA05 s.12(3)", at), POLICY)  # a bail breach, not a failure
    cancelled = await arrests.cancel_for_dropped_prosecution(uow, arrests.DropProsecution(PERSON, "A-1"))

    assert cancelled == 1
    by_ref = {(r.source, r.source_ref): r for r in repo.requests.values()}
    dropped = by_ref[(Source.assessment_failure, "A-1:DA05 s.12(3)")]
    assert not dropped.is_open
    assert [(r.source, r.source_ref) for r in by_ref.values() if r.is_open] == [
        (Source.assessment_failure, "A-10:DA05 s.12(3)"),
        (Source.assessment_failure, "A-2:DA05 s.14(3)"),
        (Source.bail_condition, "A-1:DA05 s.12(3)"),
    ]
    assert of_type(uow, ArrestRequestCancelled) == [
        ArrestRequestCancelled(
            request_id=dropped.request_id, reason="prosecution dropped (A6)", rule_ids=["A6"]
        )
    ]
    assert (ARREST_TARGET, dropped.request_id) in uow.cancelled


async def test_every_notice_goes_into_the_feed_and_a_webhook_attempt_is_queued_where_the_area_has_one(
    feed: FakeFeed,
) -> None:
    feed.webhooks.add("lambeth")
    uow = fake_uow()
    await notifications.notify(uow, Notice("warning", "lambeth", PERSON, {}))
    await notifications.notify(uow, Notice("warning", "camden", PERSON, {}))

    assert [n.area for n in feed.notices] == ["lambeth", "camden"]
    assert feed.first_attempts == [(LIAISON_WEBHOOK, "1:1")]

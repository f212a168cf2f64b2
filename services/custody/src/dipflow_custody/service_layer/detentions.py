"""Detentions: book-in, every action on a detention, the hold-for-sample and confirmation timers, and what is
still owed at a suite. Each command is one unit of work: load, decide, save, timers, events, audit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from dipflow import ppo_copy
from dipflow.errors import InvalidInput, NotFound
from dipflow.events import EventPayload
from dipflow.events.timers import Deadline
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_custody.adapters import reference
from dipflow_custody.adapters import repository as detentions
from dipflow_custody.contracts import bodies as contracts
from dipflow_custody.contracts import events as wire
from dipflow_custody.domain import events
from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.board import NextStep, next_steps
from dipflow_custody.domain.catalogue import OffenceIntake, resolve
from dipflow_custody.domain.deadlines import CONFIRMATION_DUE
from dipflow_custody.domain.detention import Detention, Stations
from dipflow_custody.domain.eligibility import TestDecision
from dipflow_custody.domain.notifications import NotificationKind
from dipflow_custody.service_layer import catalogue, clocks
from dipflow_custody.service_layer.actions import Action

AreaCheck = Callable[[str], None]
"""Refuses (403) an area the caller does not cover; a custody system on the command topic is trusted."""

WIRE: dict[type[events.DetentionEvent], type[EventPayload]] = {
    events.OffenceAdded: wire.OffenceAdded,
    events.OffenceDisposed: wire.OffenceDisposed,
    events.Charged: wire.Charged,
    events.InspectorDecisionRecorded: wire.InspectorDecisionRecorded,
    events.WrittenConfirmationRecorded: wire.WrittenConfirmationRecorded,
    events.PersonToldOfAuthorisation: wire.PersonToldOfAuthorisation,
    events.AppropriateAdultPresent: wire.AppropriateAdultPresent,
    events.WarningGiven: wire.WarningGiven,
    events.SampleTaken: wire.SampleTaken,
    events.ResultRecorded: wire.ResultRecorded,
    events.SampleDispatched: wire.SampleDispatched,
    events.ConfirmatoryResultRecorded: wire.ConfirmatoryResultRecorded,
    events.ConfirmationOverdue: wire.ConfirmationOverdue,
    events.RefusalRecorded: wire.RefusalRecorded,
    events.Released: wire.Released,
    events.DeadlinePassed: wire.DeadlinePassed,
}
"""Every domain event has its wire event (custody.events.v1); a new domain event without one fails to emit."""
_FACTS = {kind: tuple(f.name for f in fields(kind) if f.name != "at") for kind in WIRE}
"""The fields of each domain event that its wire event carries as they are (all but its time, ``at``)."""


class UnknownSuite(InvalidInput):
    def __init__(self, suite: str, known: list[str]) -> None:
        super().__init__(
            f"unknown custody suite {suite!r}",
            field="body.suite",
            reason=f"known suites: {', '.join(known)}",
            kind="unknown-suite",
        )
        self.suite = suite
        self.known = known


class NotThisPersons(LookupError):
    """A command keyed by one person names another person's detention (the key orders one person's commands)."""

    def __init__(self, detention_id: str) -> None:
        super().__init__(f"detention {detention_id} is not the keyed person's")
        self.detention_id = detention_id


@dataclass(frozen=True)
class BookIn:
    person_id: str
    name: str
    date_of_birth: date
    home_area: str
    suite: str
    arrested_at: datetime
    booked_in_at: datetime
    offences: list[OffenceIntake] = field(default_factory=list)
    """As the custody system named them; named from the catalogue in force when the command runs."""
    detention_id: str | None = None
    """Given by the command topic (derived from the command's event id); new otherwise."""


def book_in_command(
    body: contracts.BookIn, *, booked_in_at: datetime, detention_id: str | None = None
) -> BookIn:
    """The command a book-in body (HTTP or the command topic) asks for."""
    return BookIn(
        person_id=body.person_id,
        name=body.name,
        date_of_birth=body.date_of_birth,
        home_area=body.home_area,
        suite=body.suite,
        arrested_at=body.arrested_at,
        booked_in_at=body.booked_in_at or booked_in_at,
        offences=[o.intake() for o in body.offences],
        detention_id=detention_id,
    )


@dataclass(frozen=True)
class Act:
    """Run ``action`` (named ``name``, as its route) on a detention; from the topic, ``keyed_by`` is the person the
    command was keyed by."""

    detention_id: str
    name: str
    action: Action
    keyed_by: str | None = None


@dataclass(frozen=True)
class Outcome:
    detention: Detention
    decision: TestDecision
    area: str
    """The borough of the detention's custody suite: who may act on it follows from it."""


async def stations(uow: UnitOfWork, d: Detention) -> Stations:
    at_arrest = await reference.notified(uow, d.suite, london_day(d.arrested_at))
    at_charge = await reference.notified(uow, d.suite, london_day(d.charged_at)) if d.charged_at else None
    return Stations(at_arrest, at_charge)


async def book_in(uow: UnitOfWork, cmd: BookIn, check_area: AreaCheck) -> Outcome:
    await catalogue.refresh(uow)
    suite = await reference.suite_on(uow, cmd.suite, london_day(cmd.booked_in_at))
    if suite is None:
        raise UnknownSuite(cmd.suite, await reference.known_suites(uow))
    force, area = suite.force, suite.borough
    check_area(area)
    d = Detention(
        detention_id=cmd.detention_id or str(uuid.uuid4()),
        person_id=cmd.person_id,
        date_of_birth=cmd.date_of_birth,
        home_area=cmd.home_area,
        suite=cmd.suite,
        arrested_at=cmd.arrested_at,
        booked_in_at=cmd.booked_in_at,
        is_ppo=await ppo_copy.is_ppo(uow, cmd.person_id),
    )
    added = [d.add_offence(resolve(o), cmd.booked_in_at) for o in cmd.offences]
    decision = d.decide(await stations(uow, d))
    timers = d.hold_timers_for(decision)
    await detentions.insert(uow, d, cmd.name, force, area)
    await _write_hold_timers(uow, d.detention_id, timers)
    booked = wire.DetentionBookedIn(
        detention_id=d.detention_id,
        suite=d.suite,
        arrested_at=d.arrested_at,
        home_area=d.home_area,
        age=d.age_at_arrest,
        is_ppo=d.is_ppo,
        suite_area=area,
    )
    payloads: list[tuple[EventPayload, datetime]] = [(booked, cmd.booked_in_at)]
    payloads += [(await _wire(uow, d, e), e.at) for e in added]
    payloads += [(p, cmd.booked_in_at) for p in _decision_events(d, None, decision)]
    await uow.emit(d.person_id, payloads)
    await uow.audit("detention.book_in", d.person_id, {"detention_id": d.detention_id})
    return Outcome(d, decision, area)


async def read_ahead(
    uow: UnitOfWork, detention_ids: Collection[str], booked_persons: Collection[str] = ()
) -> None:
    """The detentions a batch of commands names, read and locked at once before the commands run, and whether
    the people it books in are PPOs (T4), read at once too."""
    if detention_ids:
        await detentions.read_ahead(uow, detention_ids)
    await ppo_copy.read_ahead(uow, booked_persons)


async def act(uow: UnitOfWork, cmd: Act, check_area: AreaCheck) -> Outcome:
    """One command on a detention: its event and any new test decision, in one unit of work."""
    await catalogue.refresh(uow)
    loaded = await detentions.load(uow, cmd.detention_id)
    if loaded is None:
        raise NotFound("detention", cmd.detention_id)
    d, version, area = loaded
    if cmd.keyed_by is not None and cmd.keyed_by != d.person_id:
        raise NotThisPersons(cmd.detention_id)
    check_area(area)
    now = await stations(uow, d)
    before = d.decide(now)
    event = cmd.action(d, now)
    after = d.decide(await stations(uow, d))  # a charge brings in the suite's notifications on the charge day
    timers = d.hold_timers_for(after)
    await detentions.save(uow, d, version)
    await _write_hold_timers(uow, d.detention_id, timers)
    if isinstance(event, events.SampleDispatched):
        await uow.schedule(CONFIRMATION_DUE, d.detention_id, event.confirmation_due_at)
    if isinstance(event, events.ConfirmatoryResultRecorded) and not d.awaiting_confirmation:
        await uow.cancel(CONFIRMATION_DUE, d.detention_id)
    at = event.at if event is not None else d.booked_in_at
    payloads = [(await _wire(uow, d, event), at)] if event is not None else []
    payloads += [(p, at) for p in _decision_events(d, before, after)]
    await uow.emit(d.person_id, payloads)
    await clocks.after_action(uow, d, event)
    await uow.audit(f"detention.{cmd.name}", d.person_id, {"detention_id": cmd.detention_id})
    return Outcome(d, after, area)


async def read(uow: UnitOfWork, detention_id: str, check_area: AreaCheck, *, purpose: str | None) -> Outcome:
    """The detention and its decision; the read is audited, with the purpose its test results are read for
    (T13) when they are."""
    loaded = await detentions.load(uow, detention_id, lock=False)
    if loaded is None:
        raise NotFound("detention", detention_id)
    d, _, area = loaded
    check_area(area)
    decision = d.decide(await stations(uow, d))
    await uow.audit(
        "detention.read",
        d.person_id,
        {"detention_id": detention_id, **({"purpose": purpose} if purpose else {})},
    )
    return Outcome(d, decision, area)


@dataclass(frozen=True)
class DrugTestRecord:
    """What the person is given about their test (the DT1-style record): who, the test and its outcome."""

    outcome: Outcome
    name: str
    asked_under: TestDecision | None
    """The decision under which the sample was taken or refused."""


async def test_record(uow: UnitOfWork, detention_id: str, check_area: AreaCheck) -> DrugTestRecord:
    """The detention with the name it was booked under, for the record given to the person; audited as a read of
    the test results for the required assessment (T13), which the record tells the person about."""
    outcome = await read(uow, detention_id, check_area, purpose="required_assessment")
    name = await detentions.name_of(uow, detention_id)
    asked_under = outcome.detention.decision_when_asked(await stations(uow, outcome.detention))
    return DrugTestRecord(outcome, name or "", asked_under)


async def area_of(uow: UnitOfWork, detention_id: str) -> str:
    """The area of the detention's suite (who may act on it)."""
    area = await detentions.area_of(uow, detention_id)
    if area is None:
        raise NotFound("detention", detention_id)
    return area


async def where_person_is(uow: UnitOfWork, person_id: str) -> tuple[str | None, list[str]]:
    """(the borough whose PPO register holds the person, the areas where they are detained now)."""
    return await ppo_copy.borough_of(uow, person_id), await detentions.open_areas_of_person(uow, person_id)


async def on_hold_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """T10/T9: a hold-for-sample deadline fell due; with no sample the window closes (an event for read models
    and people, not a judge of a sample reported later)."""
    await _on_timer(uow, deadline, lambda d: d.close_sample_window(deadline.kind, deadline.due_at))


async def on_confirmation_due(uow: UnitOfWork, deadline: Deadline) -> None:
    """T12: the confirmatory result is due; still missing, it becomes overdue (an event, an open item and an
    alert to the suite's custody officers)."""
    done = await _on_timer(uow, deadline, lambda d: d.confirmation_passed_due(deadline.due_at))
    if done is not None and isinstance(done[1], events.ConfirmationOverdue):
        await clocks.confirmation_overdue(uow, done[0], done[1])


async def _on_timer(
    uow: UnitOfWork, deadline: Deadline, change: Callable[[Detention], events.DetentionEvent | None]
) -> tuple[Detention, events.DetentionEvent] | None:
    loaded = await detentions.load_for_timer(uow, deadline.subject)
    if loaded is None:
        return None
    d, version = loaded
    event = change(d)
    if event is None:
        return None
    await detentions.save(uow, d, version)
    await uow.emit(d.person_id, [(await _wire(uow, d, event), event.at)])
    return d, event


async def open_inspector_requests(uow: UnitOfWork, suite: str) -> list[Outcome]:
    """T4: detentions in ``suite``, not yet released, still waiting for an inspector's test decision."""
    waiting = []
    for d, area in await detentions.with_open_items(uow, suite):
        if d.released_at is None:
            decision = d.decide(await stations(uow, d))
            if decision.inspector_decision_requested:
                waiting.append(Outcome(d, decision, area))
    return waiting


@dataclass(frozen=True)
class OnTheBoard:
    """A person in custody at a suite, their test decision and what they need next."""

    detention: Detention
    name: str
    decision: TestDecision
    next_steps: list[NextStep]


async def board(uow: UnitOfWork, suite: str) -> list[OnTheBoard]:
    """Everyone in custody at ``suite`` now, earliest booked first, each with what they need next."""
    on_board = []
    for d, name in await detentions.in_custody_at(uow, suite):
        decision = d.decide(await stations(uow, d))
        on_board.append(OnTheBoard(d, name, decision, next_steps(d, decision)))
    return on_board


@dataclass(frozen=True)
class OpenItem:
    kind: str
    detention_id: str
    person_id: str
    suite: str
    since: datetime
    rule_ids: list[str]
    detail: str


async def open_items(uow: UnitOfWork, suite: str) -> list[OpenItem]:
    """What is still owed at ``suite``: inspector decisions requested for PPOs (T4), oral authorisations not yet
    confirmed in writing (T3), confirmatory results overdue (T12), RA1 to serve before release (A1)."""
    items = []
    for d, _ in await detentions.with_open_items(uow, suite):
        if d.released_at is None and d.decide(await stations(uow, d)).inspector_decision_requested:
            reason = "a PPO arrested for a non-trigger offence: an inspector decides on a test"
            items.append(
                OpenItem(
                    "inspector_decision_requested",
                    d.detention_id,
                    d.person_id,
                    d.suite,
                    d.booked_in_at,
                    ["T4"],
                    reason,
                )
            )
        a = d.authorisation
        if a is not None and a.written_confirmation == "pending":
            items.append(
                OpenItem(
                    "written_confirmation_pending",
                    d.detention_id,
                    d.person_id,
                    d.suite,
                    a.at,
                    ["T3"],
                    f"oral {a.decision} by {a.by} ({a.rank}) not yet confirmed in writing",
                )
            )
        if d.confirmation_overdue and d.awaiting_confirmation and d.confirmation_due_at is not None:
            waiting = ", ".join(d.awaiting_confirmation)
            items.append(
                OpenItem(
                    "confirmation_overdue",
                    d.detention_id,
                    d.person_id,
                    d.suite,
                    d.confirmation_due_at,
                    ["T12"],
                    f"confirmatory result for {waiting} not received",
                )
            )
        if d.released_at is None and d.ra1_to_serve:
            items.append(
                OpenItem(
                    "ra1_to_serve",
                    d.detention_id,
                    d.person_id,
                    d.suite,
                    d.sample_taken_at or d.booked_in_at,
                    ["A1"],
                    "RA1 to serve: a required assessment was proposed for the positive result; releasing the "
                    "person before it is imposed lets it lapse",
                )
            )
    return items


async def _write_hold_timers(uow: UnitOfWork, detention_id: str, changes: dict[str, datetime | None]) -> None:
    """Each hold timer of ``changes`` set at its time, or cancelled (None)."""
    for kind, due in changes.items():
        if due is not None:
            await uow.schedule(kind, detention_id, due)
        else:
            await uow.cancel(kind, detention_id)


def _decision_events(d: Detention, before: TestDecision | None, after: TestDecision) -> list[EventPayload]:
    """A decision that changed (stage, outcome or rule ids) is an event; a new request for an inspector too."""
    if before is not None and (before.stage, before.outcome, before.rule_ids) == (
        after.stage,
        after.outcome,
        after.rule_ids,
    ):
        return []
    decided: list[EventPayload] = [
        wire.EligibilityDecided(
            detention_id=d.detention_id,
            suite=d.suite,
            stage=str(after.stage),
            outcome=str(after.outcome),
            rule_ids=list(after.rule_ids),
            reason=after.reason,
            appropriate_adult_required=after.appropriate_adult_required,
        )
    ]
    if after.inspector_decision_requested and not (before and before.inspector_decision_requested):
        decided.append(
            wire.InspectorDecisionRequested(detention_id=d.detention_id, suite=d.suite, reason=after.reason)
        )
    return decided


async def _wire(uow: UnitOfWork, d: Detention, event: events.DetentionEvent) -> EventPayload:
    """The wire event of a domain event; a result carries whether the suite's area had assessment arrangements
    on the sample date (A1, A2), a charge whether the person's home area had restriction-on-bail arrangements and
    their age that day (B1)."""
    facts = {name: getattr(event, name) for name in _FACTS[type(event)]}
    if isinstance(event, events.ResultRecorded):
        suite = await reference.suite_on(uow, d.suite, london_day(d.booked_in_at))
        on = (d.sample_taken_at or event.at).date()
        there = await reference.notified(uow, suite.borough, on) if suite else None
        facts["initial_assessment_notified"] = bool(there and NotificationKind.initial_assessment in there)
        facts["follow_up_assessment_notified"] = bool(
            there and NotificationKind.follow_up_assessment in there
        )
    if isinstance(event, events.Charged):
        home = await reference.notified(uow, d.home_area, event.at.date())
        facts["restriction_on_bail_notified"] = NotificationKind.restriction_on_bail in home
        facts["home_area"] = d.home_area
        facts["age"] = age_on(d.date_of_birth, event.at.date())
    wire_type: Any = WIRE[type(event)]
    payload: EventPayload = wire_type(detention_id=d.detention_id, suite=d.suite, **facts)
    return payload

"""The custody service layer: one transaction per command — load, decide, save, outbox, audit."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import asyncpg

from dipflow.audit import Audit
from dipflow.events import Envelope, EventPayload, new_envelope
from dipflow.events.outbox import add_to_outbox
from dipflow.events.timers import Deadline, cancel_deadline, lock_or_try_later, schedule_deadline
from dipflow_custody.adapters import repository as repo
from dipflow_custody.consumed import PpoStatusView
from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.deadlines import CONFIRMATION_DUE, pending_hold_deadlines
from dipflow_custody.domain.detention import Change, Detention, Stations
from dipflow_custody.domain.eligibility import TestDecision
from dipflow_custody.domain.notifications import NotificationKind
from dipflow_custody.events import (
    TOPIC,
    AppropriateAdultPresent,
    Charged,
    ConfirmationOverdue,
    ConfirmatoryResultRecorded,
    DeadlinePassed,
    DetentionBookedIn,
    EligibilityDecided,
    InspectorDecisionRecorded,
    InspectorDecisionRequested,
    OffenceAdded,
    OffenceDisposed,
    PersonToldOfAuthorisation,
    RefusalRecorded,
    Released,
    ResultRecorded,
    SampleDispatched,
    SampleTaken,
    WarningGiven,
    WrittenConfirmationRecorded,
)

PRODUCER = "custody"
T = TypeVar("T")
PAYLOADS: dict[str, type[EventPayload]] = {
    "offence_added": OffenceAdded,
    "offence_disposed": OffenceDisposed,
    "written_confirmation_recorded": WrittenConfirmationRecorded,
    "person_told_of_authorisation": PersonToldOfAuthorisation,
    "appropriate_adult_present": AppropriateAdultPresent,
    "sample_dispatched": SampleDispatched,
    "confirmation_overdue": ConfirmationOverdue,
    "charged": Charged,
    "inspector_decision_recorded": InspectorDecisionRecorded,
    "warning_given": WarningGiven,
    "sample_taken": SampleTaken,
    "result_recorded": ResultRecorded,
    "refusal_recorded": RefusalRecorded,
    "released": Released,
    "deadline_passed": DeadlinePassed,
    "confirmatory_result": ConfirmatoryResultRecorded,
}


async def in_transaction(pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async with pool.acquire() as conn, conn.transaction():
        return await work(conn)


class NotFound(LookupError):
    pass


class NotThisPersons(LookupError):
    """A command keyed by one person names another person's detention."""


class UnknownSuite(LookupError):
    def __init__(self, suite: str, known: list[str]) -> None:
        super().__init__(suite)
        self.suite = suite
        self.known = known


@dataclass(frozen=True)
class Outcome:
    detention: Detention
    decision: TestDecision
    area: str
    """The borough of the detention's custody suite: who may act on it follows from it."""


async def _stations(conn: asyncpg.Connection, d: Detention) -> Stations:
    at_arrest = await repo.station_notified(conn, d.suite, d.arrested_at.date())
    at_charge = await repo.station_notified(conn, d.suite, d.charged_at.date()) if d.charged_at else None
    return Stations(at_arrest, at_charge)


async def _decision(conn: asyncpg.Connection, d: Detention) -> TestDecision:
    return d.decide(await _stations(conn, d))


def _decision_events(
    d: Detention, before: TestDecision | None, after: TestDecision, at: datetime
) -> list[EventPayload]:
    if before is not None and (before.stage, before.outcome, before.rule_ids) == (
        after.stage,
        after.outcome,
        after.rule_ids,
    ):
        return []
    events: list[EventPayload] = [
        EligibilityDecided(
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
        events.append(
            InspectorDecisionRequested(detention_id=d.detention_id, suite=d.suite, reason=after.reason)
        )
    return events


async def _schedule_holds(conn: asyncpg.Connection, d: Detention, decision: TestDecision) -> None:
    pending = pending_hold_deadlines(d.time_limit(decision), still_open=d.awaiting_sample)
    for kind, due in pending.items():
        if due is None:
            await cancel_deadline(conn, kind, d.detention_id)
        else:
            await schedule_deadline(conn, kind, d.detention_id, due)


async def _emit(
    conn: asyncpg.Connection,
    d: Detention,
    payloads: list[tuple[EventPayload, datetime]],
    correlation_id: str,
    causation: Envelope | None = None,
) -> None:
    """The events, in order, caused by ``causation`` (the inbound command) when there is one."""
    envelopes: list[Envelope] = [
        new_envelope(
            p,
            person_id=d.person_id,
            producer=PRODUCER,
            occurred_at=at,
            correlation_id=correlation_id,
            causation=causation,
        )
        for p, at in payloads
    ]
    await add_to_outbox(conn, TOPIC, envelopes)


async def book_in(
    conn: asyncpg.Connection,
    audit: Audit,
    *,
    person_id: str,
    name: str,
    date_of_birth: datetime | object,
    home_area: str,
    suite: str,
    arrested_at: datetime,
    booked_in_at: datetime,
    offences: list[Offence],
    check_area: Callable[[str], None],
    detention_id: str | None = None,
    causation: Envelope | None = None,
) -> Outcome:
    place = await repo.suite_force_and_area(conn, suite)
    if place is None:
        raise UnknownSuite(suite, await repo.known_suites(conn))
    force, area = place
    check_area(area)
    d = Detention(
        detention_id=detention_id or str(uuid.uuid4()),
        person_id=person_id,
        date_of_birth=date_of_birth,  # type: ignore[arg-type]
        home_area=home_area,
        suite=suite,
        arrested_at=arrested_at,
        booked_in_at=booked_in_at,
        is_ppo=await repo.is_ppo(conn, person_id),
    )
    changes = [d.add_offence(o, booked_in_at) for o in offences]
    decision = await _decision(conn, d)
    await repo.insert_detention(conn, d, name, force, area)
    await _schedule_holds(conn, d, decision)
    booked = DetentionBookedIn(
        detention_id=d.detention_id, suite=suite, arrested_at=arrested_at, home_area=home_area,
        age=d.age_at_arrest, is_ppo=d.is_ppo,
    )  # fmt: skip
    payloads: list[tuple[EventPayload, datetime]] = [(booked, booked_in_at)]
    payloads += [(_payload(d, c), c.at) for c in changes]
    payloads += [(p, booked_in_at) for p in _decision_events(d, None, decision, booked_in_at)]
    await _emit(conn, d, payloads, audit.correlation_id, causation)
    await audit.record("detention.book_in", person_id, conn=conn, detail={"detention_id": d.detention_id})
    return Outcome(d, decision, area)


def _payload(d: Detention, change: Change) -> EventPayload:
    model = PAYLOADS[change.kind]
    return model(detention_id=d.detention_id, suite=d.suite, **change.facts)


async def act(
    conn: asyncpg.Connection,
    audit: Audit,
    detention_id: str,
    action: Callable[[Detention, Stations], Change | None],
    *,
    name: str,
    check_area: Callable[[str], None],
    causation: Envelope | None = None,
) -> Outcome:
    """Run one command on a detention in one transaction, emitting its events and any new decision. A command
    that came from the command topic (``causation``) must be keyed by the detention's own person."""
    loaded = await repo.load_detention(conn, detention_id)
    if loaded is None:
        raise NotFound(detention_id)
    d, version, area = loaded
    if causation is not None and causation.person_id != d.person_id:
        raise NotThisPersons(detention_id)
    check_area(area)
    stations = await _stations(conn, d)
    before = d.decide(stations)
    change = action(d, stations)
    after = await _decision(conn, d)
    await repo.save_detention(conn, d, version)
    await _schedule_holds(conn, d, after)
    payloads: list[tuple[EventPayload, datetime]] = []
    if change is not None and change.kind == "result_recorded":
        change = await _with_assessment_facts(conn, d, change)
    if change is not None and change.kind == "charged":
        change = await _with_bail_facts(conn, d, change)
    if change is not None and change.kind in PAYLOADS:
        payloads.append((_payload(d, change), change.at))
    if change is not None and change.kind == "sample_dispatched" and d.confirmation_due_at is not None:
        await schedule_deadline(conn, CONFIRMATION_DUE, d.detention_id, d.confirmation_due_at)
    if change is not None and change.kind == "confirmatory_result" and not d.awaiting_confirmation:
        await cancel_deadline(conn, CONFIRMATION_DUE, d.detention_id)
    at = change.at if change is not None else d.booked_in_at
    payloads += [(p, at) for p in _decision_events(d, before, after, at)]
    await _emit(conn, d, payloads, audit.correlation_id, causation)
    await audit.record(f"detention.{name}", d.person_id, conn=conn, detail={"detention_id": detention_id})
    return Outcome(d, after, area)


async def read(
    pool: asyncpg.Pool,
    audit: Audit,
    detention_id: str,
    check_area: Callable[[str], None],
    *,
    purpose: str | None = None,
) -> Outcome:
    """The detention and its decision; the read is audited, with the purpose its test results are read for
    (T13) when they are."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT state, area FROM detentions WHERE detention_id = $1", detention_id)
        if row is None:
            raise NotFound(detention_id)
        check_area(row["area"])
        d = repo.from_doc(row["state"])
        decision = await _decision(conn, d)
    detail = {"detention_id": detention_id, **({"purpose": purpose} if purpose else {})}
    await audit.record("detention.read", d.person_id, detail=detail)
    return Outcome(d, decision, row["area"])


async def _with_assessment_facts(conn: asyncpg.Connection, d: Detention, change: Change) -> Change:
    """A1/A2 need to know whether the suite's area had assessment arrangements on the sample date."""
    area = await repo.suite_force_and_area(conn, d.suite)
    on = (d.sample_taken_at or change.at).date()
    notified = await repo.station_notified(conn, area[1], on) if area else None
    facts = {
        **change.facts,
        "initial_assessment_notified": bool(notified and NotificationKind.initial_assessment in notified),
        "follow_up_assessment_notified": bool(notified and NotificationKind.follow_up_assessment in notified),
    }
    return Change(change.kind, change.at, facts)


async def _with_bail_facts(conn: asyncpg.Connection, d: Detention, change: Change) -> Change:
    """B1 needs to know whether the area where the person lives had restriction-on-bail arrangements on the
    day of charge, and the age then."""
    notified = await repo.station_notified(conn, d.home_area, change.at.date())
    facts = {
        **change.facts,
        "restriction_on_bail_notified": bool(notified and NotificationKind.restriction_on_bail in notified),
        "home_area": d.home_area,
        "age": age_on(d.date_of_birth, change.at.date()),
    }
    return Change(change.kind, change.at, facts)


async def on_hold_deadline(conn: asyncpg.Connection, deadline: Deadline) -> None:
    """A hold-for-sample deadline fell due (in the timer loop's transaction). The detention is locked without
    waiting: a command on it may hold its lock while it reschedules this very deadline."""
    row = await lock_or_try_later(
        conn,
        "SELECT state, version FROM detentions WHERE detention_id = $1 FOR UPDATE NOWAIT",
        deadline.subject,
    )
    if row is None:
        return
    d, version = repo.from_doc(row["state"]), row["version"]
    change = d.close_sample_window(deadline.kind, deadline.due_at)
    if change is None:
        return
    await repo.save_detention(conn, d, version)
    await _emit(conn, d, [(_payload(d, change), change.at)], str(uuid.uuid4()))


async def on_confirmation_due(conn: asyncpg.Connection, deadline: Deadline) -> None:
    """T12: the confirmatory result is due; still missing, it becomes overdue (an event and an open item)."""
    row = await lock_or_try_later(
        conn,
        "SELECT state, version FROM detentions WHERE detention_id = $1 FOR UPDATE NOWAIT",
        deadline.subject,
    )
    if row is None:
        return
    d, version = repo.from_doc(row["state"]), row["version"]
    change = d.confirmation_passed_due(deadline.due_at)
    if change is None:
        return
    await repo.save_detention(conn, d, version)
    await _emit(conn, d, [(_payload(d, change), change.at)], str(uuid.uuid4()))


async def on_ppo_status(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, PpoStatusView)
    await repo.upsert_ppo(conn, envelope.person_id, payload.borough)


async def on_ppo_removed(conn: asyncpg.Connection, key: bytes) -> None:
    await repo.remove_ppo(conn, key.decode())


async def open_inspector_requests(conn: asyncpg.Connection, suite: str) -> list[Outcome]:
    """T4: detentions in ``suite``, not yet released, still waiting for an inspector's test decision."""
    waiting = []
    for d, area in await repo.detentions_with_open_items(conn, suite):
        if d.released_at is None:
            decision = await _decision(conn, d)
            if decision.inspector_decision_requested:
                waiting.append(Outcome(d, decision, area))
    return waiting


@dataclass(frozen=True)
class OpenItem:
    kind: str
    detention_id: str
    person_id: str
    suite: str
    since: datetime
    rule_ids: list[str]
    detail: str


async def open_items(conn: asyncpg.Connection, suite: str) -> list[OpenItem]:
    """What is still owed at ``suite``: inspector decisions requested for PPOs (T4), oral authorisations not yet
    confirmed in writing (T3), confirmatory results overdue (T12)."""
    items = []
    for d, _ in await repo.detentions_with_open_items(conn, suite):
        if d.released_at is None and (await _decision(conn, d)).inspector_decision_requested:
            items.append(OpenItem("inspector_decision_requested", d.detention_id, d.person_id, d.suite,
                                  d.booked_in_at, ["T4"], "a PPO arrested for a non-trigger offence: an inspector "
                                  "decides on a test"))  # fmt: skip
        a = d.authorisation
        if a is not None and a.written_confirmation == "pending":
            items.append(OpenItem("written_confirmation_pending", d.detention_id, d.person_id, d.suite, a.at,
                                  ["T3"], f"oral {a.decision} by {a.by} ({a.rank}) not yet confirmed in writing"))  # fmt: skip
        if d.confirmation_overdue and d.awaiting_confirmation and d.confirmation_due_at is not None:
            items.append(OpenItem("confirmation_overdue", d.detention_id, d.person_id, d.suite,
                                  d.confirmation_due_at, ["T12"],
                                  f"confirmatory result for {', '.join(d.awaiting_confirmation)} not received"))  # fmt: skip
    return items

"""A9: who takes an appointment, and telling them. Assignments are made one at a time (a transaction-wide lock),
from the loads recorded now; each is announced in the same unit of work: ``referral.worker_assigned`` (or
``referral.assignment_unassigned`` for the managers' queue), the worker's live inbox on commit, and a signed
delivery to the team's webhook when it has one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dipflow.errors import NotFound
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_day
from dipflow_referral.adapters import assessments, inbox, webhooks, workers
from dipflow_referral.adapters.assessments import Waiting
from dipflow_referral.contracts import events as wire
from dipflow_referral.contracts.webhooks import TeamAssignment
from dipflow_referral.domain.assessment import Appointment, Kind, RequiredAssessment
from dipflow_referral.domain.assignment import AppointmentPolicy, Proposal, Slot, propose, slot_on, window
from dipflow_referral.service_layer import clocks, recording

WEBHOOK = "referral.webhook"
"""The timer kind of team webhook deliveries."""
WEBHOOK_ATTEMPTS = 8


@dataclass(frozen=True)
class Reslotted:
    """What a re-slot did: appointments given to another worker, and those left in the unassigned queue."""

    moved: int
    queued: int


async def propose_initial(
    uow: UnitOfWork,
    a: RequiredAssessment,
    policy: AppointmentPolicy,
    *,
    exclude_assessment: str | None = None,
) -> Proposal:
    """A3/A9: the first day in the window with a worker covering the suite who has room, and their slot."""
    await workers.lock_assignments(uow)
    earliest, latest = window(a.result_at, a.disputed, policy, confirmation_from=a.confirmation_clock_from)
    covering = await workers.covering(uow, a.suite)
    loads = await workers.loads_between(uow, earliest, latest, exclude_assessment=exclude_assessment)
    return propose(
        covering,
        loads,
        suite=a.suite,
        earliest=earliest,
        latest=latest,
        policy=policy,
        rule_ids=("A1", "A3", "A9"),
    )


async def propose_from(
    uow: UnitOfWork, suite: str, earliest: date, policy: AppointmentPolicy, *, prefer: str | None = None
) -> Proposal:
    """A9 for an appointment no required assessment holds (a bail condition's, B3): the first working day from
    ``earliest`` (within ``initial_within_days``) with a worker covering ``suite`` who has room, and their slot."""
    await workers.lock_assignments(uow)
    latest = earliest + timedelta(days=policy.initial_within_days)
    covering = await workers.covering(uow, suite)
    loads = await workers.loads_between(uow, earliest, latest)
    return propose(
        covering,
        loads,
        suite=suite,
        earliest=earliest,
        latest=latest,
        policy=policy,
        prefer=prefer,
        rule_ids=("B3", "A9"),
    )


async def slot_on_day(
    uow: UnitOfWork,
    suite: str,
    day: date,
    policy: AppointmentPolicy,
    *,
    prefer: str | None = None,
    exclude: str | None = None,
    exclude_assessment: str | None = None,
) -> Slot | None:
    """A9 on one day: who covering ``suite`` can take an appointment (``prefer`` first), and when."""
    await workers.lock_assignments(uow)
    covering = await workers.covering(uow, suite)
    loads = await workers.loads_between(uow, day, day, exclude_assessment=exclude_assessment)
    return slot_on(covering, loads, suite, day, policy, prefer=prefer, exclude=exclude)


async def announce(
    uow: UnitOfWork,
    a: RequiredAssessment,
    area: str,
    kind: Kind,
    appointment: Appointment,
    at: datetime,
    previous: str | None = None,
    *,
    policy: AppointmentPolicy,
    from_queue: bool = False,
) -> None:
    """Tell the worker (their inbox, their team's webhook) and everyone else (an event) who has the appointment,
    or the managers that nobody could take it (an alert); one taken ``from_queue`` resolves that alert."""
    ids = {"assessment_id": a.case_id, "detention_id": a.detention_id}
    worker_id = appointment.worker_id
    if worker_id is None:
        reason = "no worker covering the suite has room that day"
        unassigned = wire.AssignmentUnassigned(**ids, kind=str(kind), suite=a.suite, area=area, reason=reason)
        await uow.emit(a.person_id, [(unassigned, at)])
        await clocks.nobody_free(uow, a, area, kind, appointment, policy.unassigned_escalation_before)
        return
    if from_queue:
        await clocks.someone_took(uow, a, kind, worker_id)
    assigned = wire.WorkerAssigned(
        **ids,
        kind=str(kind),
        worker_id=worker_id,
        appointment_at=appointment.at,
        reassigned=previous is not None,
        previous_worker_id=previous,
    )
    await uow.emit(a.person_id, [(assigned, at)])
    await inbox.notify(uow, worker_id, a.case_id, str(kind), appointment.at)
    team = await workers.area_of(uow, worker_id)
    if team is None:
        return
    body = TeamAssignment(
        assessment_id=a.case_id,
        kind=str(kind),
        worker_id=worker_id,
        appointment_at=appointment.at,
        suite=a.suite,
        reassigned=previous is not None,
    )
    await webhooks.queue(uow, team, body, delivered_by=WEBHOOK)


async def reslot(
    uow: UnitOfWork, waiting: Sequence[Waiting], policy: AppointmentPolicy, *, holder: str | None
) -> Reslotted:
    """A9: each waiting appointment held by ``holder`` (None: by nobody, the unassigned queue) goes to a worker
    covering the suite with room that day, at their free slot (a changed time is served as RA2 once imposed);
    failing that, to the queue. The holder's own slot is freed first, so their load no longer counts it. An
    appointment that stays in the queue changes nothing. The waiting assessments are locked first, in id order,
    before the assignment lock (the order of a consumer's batch: neither waits on the other in a cycle)."""
    moved = queued = 0
    now = datetime.now(UTC)
    await assessments.lock(uow, [w.assessment_id for w in waiting])
    for w in waiting:
        loaded = await assessments.load(uow, assessment_id=w.assessment_id)
        if loaded is None:
            raise NotFound("required assessment", w.assessment_id)
        a, version, area = loaded.assessment, loaded.version, loaded.area
        appointment = a.appointment(w.kind)
        if appointment is None or appointment.worker_id != holder:
            continue
        if holder is not None:
            a.give_to(w.kind, None, now)
            await assessments.save(uow, a, version)
            version += 1
        slot = await slot_on_day(uow, a.suite, london_day(appointment.at), policy, exclude=holder)
        if slot is None:
            queued += 1
            if holder is None:
                continue
        else:
            moved += 1
        changed = a.give_to(w.kind, slot, now)
        await recording.commit(uow, a, version, area, [changed] if changed else [])
        await announce(
            uow, a, area, w.kind, appointment, now, holder, policy=policy, from_queue=holder is None
        )
    return Reslotted(moved, queued)


async def reassign_for_leave(
    uow: UnitOfWork, worker_id: str, first: date, last: date, policy: AppointmentPolicy
) -> Reslotted:
    """A9: a worker going on leave: their waiting appointments in it go to colleagues, or to the queue."""
    return await reslot(uow, await assessments.held_by(uow, worker_id, first, last), policy, holder=worker_id)


async def assign_queued(uow: UnitOfWork, suites: Sequence[str], policy: AppointmentPolicy) -> int:
    """A9: when a worker is added or changes, the queued appointments at their suites that someone can now take
    are given out (a queued appointment whose day has passed still needs an owner, to serve a new notice)."""
    return (await reslot(uow, await assessments.queued_at(uow, list(suites)), policy, holder=None)).moved

"""The referral service layer: one transaction per command or consumed event; state, outbox events, notices,
inbox notifications and audit together."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import orjson

from dipflow.events import Envelope, EventPayload, outbox
from dipflow.working_days import next_working_day
from dipflow_referral import notices, webhooks
from dipflow_referral.adapters import repository as repo
from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    RequiredAssessment,
    RuleViolation,
    Status,
    Step,
)
from dipflow_referral.domain.assignment import (
    LONDON,
    AppointmentPolicy,
    Proposal,
    capped_to_slots,
    choose_worker,
    propose,
    slot_time,
    window,
)
from dipflow_referral.events import (
    TOPIC,
    AppointmentChanged,
    AssessmentRequired,
    AssignmentUnassigned,
    AttendanceRecorded,
    FailureNotified,
    FollowUpDecided,
    RequirementImposed,
    RequirementLapsed,
    RequirementsEnded,
    TreatmentEntered,
    WorkerAssigned,
)

PRODUCER = "referral"
INBOX_CHANNEL = "referral_inbox"


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class Context:
    """Who or what caused a change: a correlation id, and the consumed event when there is one."""

    correlation_id: str
    causation: Envelope | None = None


async def emit(
    conn: asyncpg.Connection, person_id: str, payloads: Sequence[tuple[EventPayload, datetime]], ctx: Context
) -> None:
    await outbox.emit(conn, topic=TOPIC, producer=PRODUCER, person_id=person_id, payloads=payloads,
                      correlation_id=ctx.correlation_id, causation=ctx.causation)  # fmt: skip


async def notify_inbox(
    conn: asyncpg.Connection, worker_id: str, assessment_id: str, kind: str, at: datetime
) -> None:
    """Wake live inbox streams (delivered on commit, so a stream never shows an assignment that rolled back)."""
    payload = orjson.dumps(
        {"worker_id": worker_id, "assessment_id": assessment_id, "kind": kind, "at": at.isoformat()}
    )
    await conn.execute("SELECT pg_notify($1, $2)", INBOX_CHANNEL, payload.decode())


async def _serve_notice(
    conn: asyncpg.Connection, a: RequiredAssessment, form: str, at: datetime, text: str
) -> None:
    await conn.execute(
        "INSERT INTO notices (assessment_id, form, served_at, text) VALUES ($1, $2, $3, $4)",
        a.case_id,
        form,
        at,
        text,
    )


def _base(a: RequiredAssessment) -> dict[str, str]:
    return {"assessment_id": a.case_id, "detention_id": a.detention_id}


def step_payloads(a: RequiredAssessment, area: str, step: Step) -> list[EventPayload]:
    """The events a domain step raises."""
    f = step.facts
    base = _base(a)
    match step.kind:
        case "requirement_imposed":
            return [RequirementImposed(**base, appointment_at=datetime.fromisoformat(f["appointment_at"]), place=f["place"],
                                       worker_id=f["worker_id"], follow_up_imposed=f["follow_up_imposed"],
                                       rule_ids=list(step.rule_ids))]  # fmt: skip
        case "requirement_lapsed":
            return [RequirementLapsed(**base, reason=f["reason"])]
        case "appointment_changed":
            return [AppointmentChanged(**base, kind=f["kind"], appointment_at=datetime.fromisoformat(f["appointment_at"]),
                                       place=f["place"], worker_id=f["worker_id"])]  # fmt: skip
        case "attendance_recorded":
            return [AttendanceRecorded(**base, kind=f["kind"], outcome=f["outcome"], good_cause=f["good_cause"],
                                       appointment_at=datetime.fromisoformat(f["appointment_at"]))]  # fmt: skip
        case "failure_notified":
            return [FailureNotified(
                **base, kind=f["kind"], outcome=f["outcome"], offence=f["offence"],
                imposed_at=datetime.fromisoformat(f["imposed_at"]) if f["imposed_at"] else None, notice=f["notice"],
                appointment_at=datetime.fromisoformat(f["appointment_at"]), place=f["place"], worker_id=f["worker_id"],
                follow_up_ended=f["follow_up_ended"], suite=a.suite, area=area, rule_ids=list(step.rule_ids),
                what=f["what"],
            )]  # fmt: skip
        case "follow_up_decided":
            return [FollowUpDecided(**base, needed=f["needed"],
                                    appointment_at=datetime.fromisoformat(f["appointment_at"]) if f.get("appointment_at") else None,
                                    place=f.get("place"), worker_id=f.get("worker_id"))]  # fmt: skip
        case "requirements_ended":
            return [RequirementsEnded(**base, reason=f["reason"], prosecution_dropped=bool(f.get("prosecution_dropped")),
                                      rule_ids=list(step.rule_ids), person_told=step.notice == "A6")]  # fmt: skip
        case "treatment_entered":
            return [TreatmentEntered(**base)]
    raise ValueError(step.kind)


def notice_text(a: RequiredAssessment, step: Step) -> str | None:
    f = step.facts
    match step.notice:
        case "RA1":
            return notices.ra1(
                datetime.fromisoformat(f["appointment_at"]), f["place"], f["follow_up_imposed"]
            )
        case "RA2":
            return notices.ra2(f["kind"], datetime.fromisoformat(f["appointment_at"]), f["place"])
        case "RA3":
            return notices.ra3(f["kind"], f["outcome"], f["good_cause"])
        case "RA4":
            return notices.ra4(datetime.fromisoformat(f["appointment_at"]), f["place"])
        case "RA5":
            return notices.ra5()
        case "A6":
            return notices.a6(bool(f["prosecution_dropped"]))
    return None


async def apply_steps(
    conn: asyncpg.Connection,
    a: RequiredAssessment,
    version: int,
    area: str,
    steps: Sequence[Step],
    ctx: Context,
) -> None:
    await repo.save_assessment(conn, a, version)
    payloads: list[tuple[EventPayload, datetime]] = []
    for step in steps:
        payloads += [(p, step.at) for p in step_payloads(a, area, step)]
        text = notice_text(a, step)
        if step.notice and text:
            await _serve_notice(conn, a, step.notice, step.at, text)
        if step.kind == "attendance_recorded":
            f = step.facts
            await conn.execute(
                "INSERT INTO attendances (assessment_id, kind, outcome, good_cause, recorded_at) VALUES ($1, $2, $3, $4, $5)",
                a.case_id, f["kind"], f["outcome"], f["good_cause"], step.at,
            )  # fmt: skip
    await emit(conn, a.person_id, payloads, ctx)


# -- assignment (A9) -----------------------------------------------------------------------------------------------


async def propose_initial(
    conn: asyncpg.Connection,
    a: RequiredAssessment,
    policy: AppointmentPolicy,
    exclude_assessment: str | None = None,
) -> Proposal:
    await repo.lock_assignments(conn)
    earliest, latest = window(a.result_at, a.disputed, policy, confirmation_from=a.confirmation_clock_from)
    workers = await repo.workers_for_suite(conn, a.suite)
    loads = await repo.loads_between(conn, earliest, latest, exclude_assessment=exclude_assessment)
    return propose(workers, loads, suite=a.suite, earliest=earliest, latest=latest, policy=policy,
                   rule_ids=("A1", "A3", "A9"))  # fmt: skip


async def _assign_on_day(
    conn: asyncpg.Connection, suite: str, day: date, policy: AppointmentPolicy, *, prefer: str | None = None,
    exclude: str | None = None, exclude_assessment: str | None = None,
) -> tuple[str, datetime] | None:  # fmt: skip
    await repo.lock_assignments(conn)
    workers = [w for w in await repo.workers_for_suite(conn, suite) if w.worker_id != exclude]
    loads = await repo.loads_between(conn, day, day, exclude_assessment=exclude_assessment)
    chosen = choose_worker(capped_to_slots(workers, policy.slots_per_day()), loads, suite, day, prefer=prefer)
    if chosen is None:
        return None
    return chosen.worker_id, loads.free_slot(chosen.worker_id, day, policy)


async def _announce_assignment(
    conn: asyncpg.Connection, a: RequiredAssessment, area: str, kind: Kind, appointment: Appointment, ctx: Context,
    at: datetime, previous: str | None = None,
) -> None:  # fmt: skip
    if appointment.worker_id is None:
        await emit(conn, a.person_id, [(AssignmentUnassigned(**_base(a), kind=str(kind), suite=a.suite, area=area,
                   reason="no worker covering the suite has room that day"), at)], ctx)  # fmt: skip
        return
    await emit(conn, a.person_id, [(WorkerAssigned(**_base(a), kind=str(kind), worker_id=appointment.worker_id,
               appointment_at=appointment.at, reassigned=previous is not None, previous_worker_id=previous), at)], ctx)  # fmt: skip
    await notify_inbox(conn, appointment.worker_id, a.case_id, str(kind), appointment.at)
    team = await conn.fetchval("SELECT area FROM workers WHERE worker_id = $1", appointment.worker_id)
    if team is not None:
        await webhooks.queue_delivery(conn, team, {
            "type": "assignment", "assessment_id": a.case_id, "kind": str(kind), "worker_id": appointment.worker_id,
            "appointment_at": appointment.at.isoformat(), "suite": a.suite, "reassigned": previous is not None,
        })  # fmt: skip


# -- consumed custody events ---------------------------------------------------------------------------------------


async def on_positive(
    conn: asyncpg.Connection, *, person_id: str, detention_id: str, suite: str, home_area: str, drug: str,
    disputed: bool, age: int, initial_notified: bool, follow_up_notified: bool, at: datetime,
    policy: AppointmentPolicy, ctx: Context,
) -> None:  # fmt: skip
    """A1: a positive result of someone 18 or over, where the suite's area is notified for initial assessment,
    makes a required assessment possible: propose the appointment and assign it (A3, A9)."""
    loaded = await repo.load_assessment(conn, detention_id=detention_id)
    if loaded is not None:
        a, version, _ = loaded
        if a.status in (Status.proposed, Status.imposed):
            a.positive_drugs.add(drug)
            a.disputed = a.disputed or disputed
            await repo.save_assessment(conn, a, version)
        return
    released = await conn.fetchval("SELECT released_at FROM detentions WHERE detention_id = $1", detention_id)
    if age < 18 or not initial_notified or released is not None:
        return
    a = RequiredAssessment(
        case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:assessment:{detention_id}")), person_id=person_id,
        detention_id=detention_id, suite=suite, home_area=home_area, positive_drugs={drug}, result_at=at,
        disputed=disputed, follow_up_notified=follow_up_notified,
    )  # fmt: skip
    proposal = await propose_initial(conn, a, policy)
    a.earliest_day = proposal.earliest
    area = repo.area_of_suite(suite, home_area)
    if proposal.at is not None:
        a.initial = Appointment(proposal.at, policy.default_place, proposal.worker_id)
    else:
        first = next_working_day(proposal.earliest or at.astimezone(LONDON).date())
        a.initial = Appointment(slot_time(first, 0, policy), policy.default_place, None)
    await repo.insert_assessment(conn, a, area)
    await emit(conn, person_id, [(AssessmentRequired(
        **_base(a), suite=suite, area=area, drugs=sorted(a.positive_drugs), disputed=disputed,
        follow_up_notified=follow_up_notified, appointment_at=a.initial.at, worker_id=a.initial.worker_id,
        rule_ids=list(proposal.rule_ids), reason=proposal.reason,
    ), at)], ctx)  # fmt: skip
    await _announce_assignment(conn, a, area, Kind.initial, a.initial, ctx, at)


async def on_confirmed_negative(
    conn: asyncpg.Connection, detention_id: str, drug: str, at: datetime, ctx: Context
) -> None:
    loaded = await repo.load_assessment(conn, detention_id=detention_id)
    if loaded is None:
        return
    a, version, area = loaded
    step = a.confirmed_negative(drug, at)
    if step is not None:
        await apply_steps(conn, a, version, area, [step], ctx)
    else:
        await repo.save_assessment(conn, a, version)


async def on_sample_dispatched(
    conn: asyncpg.Connection, detention_id: str, at: datetime, policy: AppointmentPolicy, ctx: Context
) -> None:
    """T12/A3: the disputed sample was sent for confirmation: no initial appointment before the working days
    from the dispatch; a waiting appointment before that is moved (a proposal re-proposed, an imposed one
    changed by RA2)."""
    loaded = await repo.load_assessment(conn, detention_id=detention_id)
    if loaded is None:
        return
    a, version, area = loaded
    a.sample_dispatched(at, window(at, True, policy)[0])
    if not a.initial_too_early():
        await repo.save_assessment(conn, a, version)
        return
    assert a.initial is not None
    proposal = await propose_initial(conn, a, policy, exclude_assessment=a.case_id)
    previous = a.initial.worker_id
    new_at = proposal.at or slot_time(next_working_day(a.earliest_day or at.date()), 0, policy)
    steps: list[Step] = []
    if a.status is Status.imposed:
        steps.append(a.change_appointment(Kind.initial, at, new_at, a.initial.place, checked=False))
    a.initial.at = new_at
    a.initial.worker_id = proposal.worker_id
    await apply_steps(conn, a, version, area, steps, ctx)
    if proposal.worker_id != previous or proposal.worker_id is None:
        await _announce_assignment(conn, a, area, Kind.initial, a.initial, ctx, at, previous)


async def on_released(conn: asyncpg.Connection, detention_id: str, at: datetime, ctx: Context) -> None:
    loaded = await repo.load_assessment(conn, detention_id=detention_id)
    if loaded is None:
        return
    a, version, area = loaded
    step = a.release(at)
    await apply_steps(conn, a, version, area, [step] if step else [], ctx)


async def on_bail_condition(conn: asyncpg.Connection, detention_id: str, at: datetime, ctx: Context) -> None:
    """A7: the court imposed a bail condition to undergo assessment."""
    loaded = await repo.load_assessment(conn, detention_id=detention_id)
    if loaded is None:
        return
    a, version, area = loaded
    step = a.superseded_by_bail_condition(at)
    if step is not None:
        await apply_steps(conn, a, version, area, [step], ctx)


# -- commands from the API -----------------------------------------------------------------------------------------


async def load(conn: asyncpg.Connection, assessment_id: str) -> tuple[RequiredAssessment, int, str]:
    loaded = await repo.load_assessment(conn, assessment_id=assessment_id)
    if loaded is None:
        raise NotFound(assessment_id)
    return loaded


async def impose(
    conn: asyncpg.Connection, a: RequiredAssessment, version: int, area: str, *, at: datetime, place: str,
    appointment_at: datetime | None, policy: AppointmentPolicy, ctx: Context,
) -> None:  # fmt: skip
    before = a.initial
    step = a.impose(at, place, appointment_at)
    if before is None or (appointment_at is not None and appointment_at != before.at):
        # The officer chose another time: find who can take it that day (A9).
        assert a.initial is not None
        day = a.initial.at.astimezone(LONDON).date()
        found = await _assign_on_day(conn, a.suite, day, policy, prefer=before.worker_id if before else None,
                                     exclude_assessment=a.case_id)  # fmt: skip
        a.initial.worker_id = found[0] if found else None
        step = Step(
            step.kind, step.at, {**step.facts, "worker_id": a.initial.worker_id}, step.rule_ids, step.notice
        )
        if a.initial.worker_id != (before.worker_id if before else None):
            await _announce_assignment(
                conn, a, area, Kind.initial, a.initial, ctx, at, before.worker_id if before else None
            )
    await apply_steps(conn, a, version, area, [step], ctx)


async def decide_follow_up(
    conn: asyncpg.Connection, a: RequiredAssessment, version: int, area: str, *, at: datetime, needed: bool,
    appointment_at: datetime | None, place: str | None, policy: AppointmentPolicy, ctx: Context,
) -> None:  # fmt: skip
    """A5 with A9 continuity: the follow-up stays with the initial worker where they have room that day."""
    appointment = None
    if needed:
        if appointment_at is None:
            raise RuleViolation("A5", "a follow-up needs a time and place (RA4)")
        initial_worker = a.initial.worker_id if a.initial else None
        found = await _assign_on_day(
            conn, a.suite, appointment_at.astimezone(LONDON).date(), policy, prefer=initial_worker
        )
        worker = found[0] if found else None
        appointment = Appointment(appointment_at, place or policy.default_place, worker)
    step = a.decide_follow_up(at, needed, appointment)
    await apply_steps(conn, a, version, area, [step], ctx)
    if appointment is not None:
        await _announce_assignment(conn, a, area, Kind.follow_up, appointment, ctx, at)


async def assign_to(
    conn: asyncpg.Connection, a: RequiredAssessment, version: int, area: str, *, kind: Kind, worker_id: str,
    policy: AppointmentPolicy, ctx: Context, at: datetime,
) -> bool:  # fmt: skip
    """A manager gives a queued (or any waiting) appointment to a named worker, if that worker has room."""
    appointment = a._appointment_waiting(kind) if a.status is not Status.proposed else a.initial
    if appointment is None:
        raise RuleViolation("A9", "no appointment is waiting")
    found = await _assign_on_day(
        conn, a.suite, appointment.at.astimezone(LONDON).date(), policy, prefer=worker_id
    )
    if found is None or found[0] != worker_id:
        return False
    previous = appointment.worker_id
    appointment.worker_id = worker_id
    await repo.save_assessment(conn, a, version)
    await _announce_assignment(conn, a, area, kind, appointment, ctx, at, previous)
    return True


async def reassign_for_leave(
    conn: asyncpg.Connection, worker_id: str, first: date, last: date, policy: AppointmentPolicy, ctx: Context
) -> dict[str, int]:
    """A worker going on leave: each waiting appointment in the leave goes to another worker that day, at the
    same time where possible (a changed time is served as RA2); failing that, to the unassigned queue."""
    rows = await conn.fetch(
        "SELECT p.assessment_id, p.kind FROM appointments p JOIN assessments a USING (assessment_id) "
        "WHERE p.worker_id = $1 AND p.active AND p.day BETWEEN $2 AND $3 AND ((p.kind = 'initial' AND "
        "a.status = ANY($4::text[])) OR (p.kind = 'follow_up' AND a.status = $5)) ORDER BY p.at",
        worker_id, first, last, [str(Status.proposed), str(Status.imposed)], str(Status.follow_up_set),
    )  # fmt: skip
    moved = queued = 0
    now = datetime.now(UTC)
    for row in rows:
        a, version, area = await load(conn, row["assessment_id"])
        kind = Kind(row["kind"])
        appointment = a.initial if kind is Kind.initial else a.follow_up
        if appointment is None or appointment.worker_id != worker_id:
            continue
        day = appointment.at.astimezone(LONDON).date()
        # the worker's own slot frees up first, so their load no longer counts this appointment
        appointment.worker_id = None
        await repo.save_assessment(conn, a, version)
        version += 1
        found = await _assign_on_day(conn, a.suite, day, policy, exclude=worker_id)
        steps: list[Step] = []
        if found is None:
            queued += 1
        else:
            appointment.worker_id = found[0]
            moved += 1
            if found[1] != appointment.at and a.status is not Status.proposed:
                steps.append(a.change_appointment(kind, now, found[1], appointment.place, checked=False))
            appointment.at = found[1]
        await apply_steps(conn, a, version, area, steps, ctx)
        await _announce_assignment(conn, a, area, kind, appointment, ctx, now, worker_id)
    return {"moved": moved, "queued": queued}


async def assign_queued(
    conn: asyncpg.Connection, suites: Sequence[str], policy: AppointmentPolicy, ctx: Context
) -> int:
    """When a worker is added or changes, give them the queued (unassigned) appointments they can take. A queued
    appointment whose day has passed still needs an owner (to serve a new notice), so it is taken too."""
    rows = await conn.fetch(
        "SELECT p.assessment_id, p.kind FROM appointments p JOIN assessments a USING (assessment_id) "
        "WHERE p.worker_id IS NULL AND p.active AND a.suite = ANY($1::text[]) "
        "AND a.status = ANY($2::text[]) ORDER BY p.at",
        list(suites), [str(Status.proposed), str(Status.imposed), str(Status.follow_up_set)],
    )  # fmt: skip
    assigned = 0
    now = datetime.now(UTC)
    for row in rows:
        a, version, area = await load(conn, row["assessment_id"])
        kind = Kind(row["kind"])
        appointment = a.initial if kind is Kind.initial else a.follow_up
        if appointment is None or appointment.worker_id is not None:
            continue
        found = await _assign_on_day(conn, a.suite, appointment.at.astimezone(LONDON).date(), policy)
        if found is None:
            continue
        appointment.worker_id = found[0]
        steps: list[Step] = []
        if found[1] != appointment.at and a.status is not Status.proposed:
            steps.append(a.change_appointment(kind, now, found[1], appointment.place, checked=False))
        appointment.at = found[1]
        await apply_steps(conn, a, version, area, steps, ctx)
        await _announce_assignment(conn, a, area, kind, appointment, ctx, now)
        assigned += 1
    return assigned

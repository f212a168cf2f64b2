"""The referral service layer with fake repositories and a fake unit of work: what a positive result, a leave, a
manager's assignment, a court outcome or a breach commits (the assessment or case, the events, the notices, the
inbox and webhook, the audit) and what each refuses, without a database."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dipflow.auth import Principal, Role
from dipflow.errors import Forbidden, RuleViolation
from dipflow_referral.adapters.assessments import Loaded, Note, Notice, Waiting
from dipflow_referral.contracts import events as wire
from dipflow_referral.contracts.webhooks import TeamAssignment
from dipflow_referral.domain.assessment import (
    Appointment,
    Kind,
    Outcome,
    PositiveResult,
    RequiredAssessment,
    Status,
    assessment_id,
)
from dipflow_referral.domain.assignment import AppointmentPolicy, Leave, Loads, Worker, slot_time
from dipflow_referral.domain.bail import BailCase, CourtOutcome, Restriction
from dipflow_referral.domain.detention import Detention
from dipflow_referral.domain.events import AttendanceRecorded
from dipflow_referral.service_layer import (
    assessments,
    assignment,
    bail_cases,
    clinical_notes,
    clocks,
    recording,
)
from tests.support.fakes import FakeUnitOfWork, fake_uow

POLICY = AppointmentPolicy()
SUITE = "MET-BRIXTON"
MONDAY = datetime(2009, 2, 2, 11, tzinfo=UTC)
TUESDAY = date(2009, 2, 3)
MANAGER = Principal(subject="manager-1", role=Role.referral_manager, area="lambeth")
ADMIN = Principal(subject="admin-1", role=Role.admin, area="*")


def worker(worker_id: str, capacity: int = 4) -> Worker:
    return Worker(worker_id, frozenset({SUITE}), capacity)


@dataclass
class World:
    """What the referral database holds, for the fakes of its adapters."""

    assessments: dict[str, Loaded] = field(default_factory=dict)
    detentions: dict[str, Detention] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)
    """worker id -> area"""
    webhooks: set[str] = field(default_factory=set)
    deliveries: list[tuple[str, TeamAssignment]] = field(default_factory=list)
    first_attempts: list[tuple[str, str]] = field(default_factory=list)
    woken: list[tuple[str, str]] = field(default_factory=list)
    served: list[tuple[str, str]] = field(default_factory=list)
    attendances: list[tuple[str, AttendanceRecorded]] = field(default_factory=list)
    notes: dict[str, list[Note]] = field(default_factory=dict)
    bail_cases: dict[str, BailCase] = field(default_factory=dict)

    def stored(self, detention_id: str) -> RequiredAssessment:
        return self.assessments[assessment_id(detention_id)].assessment


class FakeAssessments:
    """``dipflow_referral.adapters.assessments`` over the world (copies in and out, as a database would)."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def load(
        self, uow: FakeUnitOfWork, *, assessment_id: str | None = None, detention_id: str | None = None
    ) -> Loaded | None:
        for loaded in self.world.assessments.values():
            a = loaded.assessment
            if a.case_id == assessment_id or a.detention_id == detention_id:
                return copy.deepcopy(loaded)
        return None

    async def peek(self, uow: FakeUnitOfWork, assessment_id: str) -> tuple[RequiredAssessment, str] | None:
        loaded = await self.load(uow, assessment_id=assessment_id)
        return None if loaded is None else (loaded.assessment, loaded.area)

    async def of_detention(self, uow: FakeUnitOfWork, detention_id: str) -> RequiredAssessment | None:
        loaded = await self.load(uow, detention_id=detention_id)
        return None if loaded is None else loaded.assessment

    async def insert(self, uow: FakeUnitOfWork, a: RequiredAssessment, area: str) -> None:
        assert a.case_id not in self.world.assessments
        self.world.assessments[a.case_id] = Loaded(copy.deepcopy(a), 1, area)

    async def save(self, uow: FakeUnitOfWork, a: RequiredAssessment, version: int) -> None:
        stored = self.world.assessments[a.case_id]
        assert stored.version == version, "saved over a newer version"
        self.world.assessments[a.case_id] = Loaded(copy.deepcopy(a), version + 1, stored.area)

    async def lock(self, uow: FakeUnitOfWork, assessment_ids: Collection[str]) -> None:
        return None  # one test at a time: nothing else holds a row

    async def held_by(self, uow: FakeUnitOfWork, worker_id: str, first: date, last: date) -> list[Waiting]:
        return [
            Waiting(a.case_id, kind)
            for a, kind, p in self._appointments()
            if p.worker_id == worker_id and first <= p.at.date() <= last
        ]

    async def queued_at(self, uow: FakeUnitOfWork, suites: list[str]) -> list[Waiting]:
        return [Waiting(a.case_id, kind) for a, kind, p in self._appointments() if p.worker_id is None]

    def _appointments(self) -> Iterator[tuple[RequiredAssessment, Kind, Appointment]]:
        for loaded in self.world.assessments.values():
            a = loaded.assessment
            for kind in Kind:
                p = a.appointment(kind)
                if p is not None and a.status in (Status.proposed, Status.imposed, Status.follow_up_set):
                    yield a, kind, p

    async def serve_notice(
        self, uow: FakeUnitOfWork, case_id: str, form: str, at: datetime, text: str
    ) -> None:
        self.world.served.append((case_id, form))

    async def record_attendance(self, uow: FakeUnitOfWork, case_id: str, event: AttendanceRecorded) -> None:
        self.world.attendances.append((case_id, event))

    async def notices(self, uow: FakeUnitOfWork, case_id: str) -> list[Notice]:
        return [Notice(form, MONDAY, "") for c, form in self.world.served if c == case_id]

    async def add_note(self, uow: FakeUnitOfWork, case_id: str, by: str, note: str) -> None:
        self.world.notes.setdefault(case_id, []).append(Note(by, MONDAY, note))

    async def notes(self, uow: FakeUnitOfWork, case_id: str) -> list[Note]:
        return self.world.notes.get(case_id, [])


class FakeWorkers:
    """``dipflow_referral.adapters.workers``: loads counted from the world's appointments, as the table is."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def lock_assignments(self, uow: FakeUnitOfWork) -> None:
        return None

    async def covering(self, uow: FakeUnitOfWork, suite: str) -> list[Worker]:
        return [w for w in self.world.workers if suite in w.suites and w.active]

    async def loads_between(
        self, uow: FakeUnitOfWork, first: date, last: date, *, exclude_assessment: str | None = None
    ) -> Loads:
        counts: dict[tuple[str, date], int] = {}
        times: dict[tuple[str, date], frozenset[datetime]] = {}
        for loaded in self.world.assessments.values():
            a = loaded.assessment
            if a.case_id == exclude_assessment or a.status in (Status.lapsed, Status.ended):
                continue
            for p in (a.initial, a.follow_up):
                if p is not None and p.worker_id is not None and first <= p.at.date() <= last:
                    key = (p.worker_id, p.at.date())
                    counts[key] = counts.get(key, 0) + 1
                    times[key] = times.get(key, frozenset()) | {p.at}
        return Loads(counts, times)

    async def area_of(self, uow: FakeUnitOfWork, worker_id: str, *, lock: bool = False) -> str | None:
        return self.world.teams.get(worker_id)


class FakeDetentions:
    def __init__(self, world: World) -> None:
        self.world = world

    async def load(self, uow: FakeUnitOfWork, detention_id: str) -> Detention | None:
        return self.world.detentions.get(detention_id)


class FakeWebhooks:
    def __init__(self, world: World) -> None:
        self.world = world

    async def queue(self, uow: FakeUnitOfWork, area: str, body: TeamAssignment, *, delivered_by: str) -> None:
        if area in self.world.webhooks:
            self.world.deliveries.append((area, body))
            self.world.first_attempts.append((delivered_by, f"{len(self.world.deliveries)}:1"))


class FakeInbox:
    def __init__(self, world: World) -> None:
        self.world = world

    async def notify(
        self, uow: FakeUnitOfWork, worker_id: str, case_id: str, kind: str, at: datetime
    ) -> None:
        self.world.woken.append((worker_id, case_id))


class FakeBailCases:
    def __init__(self, world: World) -> None:
        self.world = world

    async def load(self, uow: FakeUnitOfWork, detention_id: str, *, lock: bool = False) -> BailCase | None:
        return copy.deepcopy(self.world.bail_cases.get(detention_id))

    async def insert(self, uow: FakeUnitOfWork, case: BailCase) -> None:
        self.world.bail_cases[case.detention_id] = copy.deepcopy(case)

    async def save(self, uow: FakeUnitOfWork, case: BailCase) -> None:
        assert case.detention_id in self.world.bail_cases
        self.world.bail_cases[case.detention_id] = copy.deepcopy(case)

    async def breached_before(self, uow: FakeUnitOfWork, person_id: str, at: datetime) -> BailCase | None:
        found = [
            c for c in self.world.bail_cases.values() if c.person_id == person_id and c.awaits_arrest(at)
        ]
        return copy.deepcopy(found[0]) if found else None


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World()
    fakes = {
        "assessments": FakeAssessments(w),
        "workers": FakeWorkers(w),
        "detentions": FakeDetentions(w),
        "webhooks": FakeWebhooks(w),
        "inbox": FakeInbox(w),
        "bail_cases": FakeBailCases(w),
    }
    for module, names in (
        (assessments, ("assessments", "detentions")),
        (assignment, ("assessments", "workers", "webhooks", "inbox")),
        (recording, ("assessments",)),
        (clinical_notes, ("assessments",)),
        (bail_cases, ("bail_cases", "detentions")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, fakes[name])
    return w


def positive(detention_id: str = "D1", *, age: int = 30, notified: bool = True) -> PositiveResult:
    return PositiveResult(
        "08/1X", detention_id, SUITE, "lambeth", "cocaine", False, age, notified, True, MONDAY
    )


def detention(detention_id: str = "D1", *, released: bool = False, charged: bool = False) -> Detention:
    return Detention(
        detention_id=detention_id,
        person_id="08/1X",
        suite=SUITE,
        suite_area="lambeth",
        home_area="lambeth",
        age=30,
        arrested_at=MONDAY,
        released_at=MONDAY if released else None,
        charged_at=MONDAY if charged else None,
        charged_codes=frozenset({"TA1968-s1"}),
        restriction_notified=True,
        class_a_offence_codes=frozenset(),
        positive_drugs=frozenset({"cocaine"}),
    )


def waiting(world: World, detention_id: str, worker_id: str | None, *, imposed: bool = False) -> str:
    """An assessment with its initial appointment at Tuesday's first slot, held by ``worker_id``."""
    a = RequiredAssessment(
        assessment_id(detention_id), "08/1X", detention_id, SUITE, "lambeth", {"cocaine"}, MONDAY, False, True
    )
    a.initial = Appointment(slot_time(TUESDAY, 0, POLICY), "DIP office", worker_id)
    if imposed:
        a.impose(MONDAY, "DIP office")
    world.assessments[a.case_id] = Loaded(a, 1, "lambeth")
    return a.case_id


def allow(a: RequiredAssessment, area: str) -> None:
    return None


def refuse(a: RequiredAssessment, area: str) -> None:
    raise Forbidden("this record belongs to an area you do not cover", kind="wrong-area")


# -- A1, A9: a positive result ------------------------------------------------------------------------------------


async def test_a1_a_positive_of_an_adult_where_notified_opens_an_assessment_with_a_worker(
    world: World,
) -> None:
    world.workers = [worker("W1"), worker("W2")]
    world.teams = {"W1": "lambeth", "W2": "lambeth"}
    world.detentions["D1"] = replace(detention(), suite_area="lambeth", home_area="southwark")
    uow = fake_uow()
    await assessments.on_positive(uow, replace(positive(), home_area="southwark"), POLICY)

    a = world.stored("D1")
    assert a.status is Status.proposed and a.initial is not None and a.initial.worker_id == "W1"
    assert world.assessments[a.case_id].area == "lambeth"  # the suite's borough, not the home area
    required, assigned = uow.payloads()
    assert isinstance(required, wire.AssessmentRequired) and required.rule_ids == ["A1", "A3", "A9"]
    assert isinstance(assigned, wire.WorkerAssigned) and assigned.worker_id == "W1"
    assert world.woken == [("W1", a.case_id)]


@pytest.mark.parametrize(
    ("result", "released"),
    [(positive(age=17), False), (positive(notified=False), False), (positive(), True)],
    ids=["under-18", "area-not-notified", "released"],
)
async def test_a1_no_assessment_under_18_where_not_notified_or_after_release(
    world: World, result: PositiveResult, released: bool
) -> None:
    world.workers = [worker("W1")]
    world.detentions["D1"] = detention(released=released)
    uow = fake_uow()
    await assessments.on_positive(uow, result, POLICY)
    assert world.assessments == {} and uow.events == []


async def test_a1_a_further_positive_joins_the_open_assessment_without_a_second_one(world: World) -> None:
    world.workers = [worker("W1")]
    uow = fake_uow()
    await assessments.on_positive(uow, positive(), POLICY)
    await assessments.on_positive(uow, replace(positive(), drug="opiates", disputed=True), POLICY)
    a = world.stored("D1")
    assert a.positive_drugs == {"cocaine", "opiates"} and a.disputed
    assert len([p for p in uow.payloads() if isinstance(p, wire.AssessmentRequired)]) == 1


async def test_a9_nobody_free_puts_the_appointment_in_the_queue_and_alerts_the_managers(world: World) -> None:
    uow = fake_uow()
    await assessments.on_positive(uow, positive(), POLICY)
    a = world.stored("D1")
    assert a.initial is not None and a.initial.worker_id is None
    assert isinstance(uow.payloads()[-1], wire.AssignmentUnassigned) and world.woken == []
    ((kind, subject),) = uow.alerts
    alert = uow.alerts[(kind, subject)].raised
    assert (kind, alert.role, alert.area, alert.rule_ids) == (
        clocks.UNASSIGNED,
        "referral_manager",
        "lambeth",
        ("A9",),
    )
    assert alert.due_at == a.initial.at
    # the appointment (2008) is sooner than the escalation's 24 hours: escalated at once, no timer left
    assert (uow.alerts[(kind, subject)].state, uow.alerts[(kind, subject)].role) == (
        "escalated",
        "referral_manager",
    )
    assert [key for key in uow.scheduled if key[0] == clocks.ESCALATION] == []


async def nobody_free_in(world: World, hours: int) -> tuple[FakeUnitOfWork, str]:
    """A follow-up appointment ``hours`` from now that nobody can take: the unit of work that said so, and the
    subject of its alert."""
    await assessments.on_positive(fake_uow(), positive(), POLICY)
    a = world.stored("D1")
    uow = fake_uow()
    at = datetime.now(UTC) + timedelta(hours=hours)
    await clocks.nobody_free(
        uow, a, "lambeth", Kind.follow_up, Appointment(at, "office", None), timedelta(hours=24)
    )
    return uow, f"{a.case_id}:follow_up"


async def test_a9_nobody_free_schedules_the_escalation_the_set_time_before_the_appointment(
    world: World,
) -> None:
    """The escalation is scheduled with the alert (no timer in between), 24 hours before the appointment."""
    before = datetime.now(UTC)
    uow, subject = await nobody_free_in(world, 72)
    ((kind, escalation),) = list(uow.scheduled)
    due, _ = uow.scheduled[(kind, escalation)]
    assert (kind, escalation) == (clocks.ESCALATION, f"{clocks.UNASSIGNED}|{subject}")
    assert before + timedelta(hours=48) <= due <= datetime.now(UTC) + timedelta(hours=48)
    assert uow.alerts[(clocks.UNASSIGNED, subject)].state == "open"


async def test_a9_nobody_free_escalates_in_the_same_work_when_the_set_time_before_the_appointment_passed(
    world: World,
) -> None:
    """An appointment sooner than 24 hours away: the managers are told and the alert escalated at once, in the
    same unit of work, with no timer left to fire."""
    uow, subject = await nobody_free_in(world, 12)
    alert = uow.alerts[(clocks.UNASSIGNED, subject)]
    assert (alert.state, alert.role, alert.raised.role) == (
        "escalated",
        "referral_manager",
        "referral_manager",
    )
    assert list(uow.scheduled) == []


async def test_a9_an_assignment_queues_the_first_attempt_of_the_team_webhook(world: World) -> None:
    world.workers, world.teams, world.webhooks = [worker("W1")], {"W1": "lambeth"}, {"lambeth"}
    uow = fake_uow()
    await assessments.on_positive(uow, positive(), POLICY)
    ((area, body),) = world.deliveries
    assert (area, body.worker_id, body.assessment_id) == ("lambeth", "W1", assessment_id("D1"))
    assert world.first_attempts == [(assignment.WEBHOOK, "1:1")]


# -- A9: leave, the queue, a manager's choice ---------------------------------------------------------------------


async def test_a9_leave_moves_a_waiting_appointment_to_a_colleague_at_the_same_time(world: World) -> None:
    world.workers = [worker("W1"), worker("W2")]
    case_id = waiting(world, "D1", "W1", imposed=True)
    uow = fake_uow(MANAGER)
    moved = await assignment.reassign_for_leave(uow, "W1", TUESDAY, TUESDAY, POLICY)

    a = world.assessments[case_id].assessment
    assert (moved.moved, moved.queued) == (1, 0)
    assert (
        a.initial is not None
        and a.initial.worker_id == "W2"
        and a.initial.at == slot_time(TUESDAY, 0, POLICY)
    )
    (assigned,) = uow.payloads()
    assert isinstance(assigned, wire.WorkerAssigned)
    assert (assigned.reassigned, assigned.previous_worker_id) == (True, "W1")


async def test_a9_a_re_slot_to_another_time_of_an_imposed_appointment_is_served_as_ra2(world: World) -> None:
    world.workers = [worker("W1"), worker("W2")]
    waiting(world, "D0", "W2")  # W2's first slot that day is taken
    case_id = waiting(world, "D1", "W1", imposed=True)
    uow = fake_uow(MANAGER)
    await assignment.reassign_for_leave(uow, "W1", TUESDAY, TUESDAY, POLICY)

    a = world.assessments[case_id].assessment
    assert a.initial is not None and (a.initial.worker_id, a.initial.at) == (
        "W2",
        slot_time(TUESDAY, 1, POLICY),
    )
    changed = [p for p in uow.payloads() if isinstance(p, wire.AppointmentChanged)]
    assert [c.worker_id for c in changed] == ["W2"] and (case_id, "RA2") in world.served


async def test_a9_leave_with_nobody_free_queues_and_a_new_worker_then_takes_the_queue(world: World) -> None:
    world.workers = [worker("W1")]
    case_id = waiting(world, "D1", "W1")
    uow = fake_uow(MANAGER)
    moved = await assignment.reassign_for_leave(uow, "W1", TUESDAY, TUESDAY, POLICY)
    assert (moved.moved, moved.queued) == (0, 1)
    assert isinstance(uow.payloads()[-1], wire.AssignmentUnassigned)

    world.workers = [replace(worker("W1"), leave=(Leave(TUESDAY, TUESDAY),))]
    alerts = len(uow.events)
    assert await assignment.assign_queued(uow, [SUITE], POLICY) == 0
    assert len(uow.events) == alerts  # still queued: nothing changed, nobody alerted again

    world.workers = [worker("W9")]
    assert await assignment.assign_queued(uow, [SUITE], POLICY) == 1
    a = world.assessments[case_id].assessment
    assert a.initial is not None and a.initial.worker_id == "W9"
    assert await assignment.assign_queued(uow, [SUITE], POLICY) == 0  # nothing left in the queue


async def test_a9_a_manager_cannot_give_an_appointment_to_a_worker_with_no_room(world: World) -> None:
    world.workers = [worker("W1"), worker("W2", capacity=1)]
    waiting(world, "D0", "W2")
    case_id = waiting(world, "D1", "W1")
    uow = fake_uow(MANAGER)
    with pytest.raises(RuleViolation) as refused:
        await assessments.assign(uow, assessments.Assign(case_id, Kind.initial, "W2"), allow, POLICY)
    assert refused.value.rule_id == "A9" and uow.events == [] and uow.audits == []


async def test_the_caller_is_refused_before_anything_is_written(world: World) -> None:
    world.workers = [worker("W1")]
    case_id = waiting(world, "D1", "W1")
    uow = fake_uow(MANAGER)
    with pytest.raises(Forbidden):
        await assessments.impose(uow, assessments.Impose(case_id, MONDAY), refuse, POLICY)
    assert world.assessments[case_id].version == 1 and uow.events == [] and world.served == []


async def test_a4_a_failure_to_attend_is_notified_to_the_police_and_kept_for_k4(world: World) -> None:
    world.workers = [worker("W1")]
    case_id = waiting(world, "D1", "W1", imposed=True)
    uow = fake_uow(MANAGER)
    command = assessments.RecordAttendance(
        case_id, Kind.initial, Outcome.failed_to_attend, clinical_note="said X"
    )
    await assessments.record_attendance(uow, command, allow)

    recorded, notified = uow.payloads()
    assert isinstance(recorded, wire.AttendanceRecorded) and recorded.outcome == "failed_to_attend"
    assert (
        isinstance(notified, wire.FailureNotified)
        and notified.rule_ids == ["A4"]
        and notified.notice == "RA1"
    )
    assert "said X" not in str(uow.payloads())  # A8
    assert [form for _, form in world.served] == ["RA3"] and len(world.attendances) == 1
    assert world.notes[case_id][0].written_by == "manager-1"


# -- A8 -------------------------------------------------------------------------------------------------------------


async def test_a8_an_admin_reads_clinical_notes_only_by_breaking_the_glass(world: World) -> None:
    case_id = waiting(world, "D1", "W1")
    world.notes[case_id] = [Note("worker", MONDAY, "disclosed use")]
    with pytest.raises(Forbidden) as refused:
        await clinical_notes.read(fake_uow(ADMIN), clinical_notes.ReadNotes(case_id), allow)
    assert refused.value.rule_id == "A8"

    uow = fake_uow(ADMIN)
    notes = await clinical_notes.read(uow, clinical_notes.ReadNotes(case_id, "court order 123"), allow)
    assert [n.note for n in notes] == ["disclosed use"]
    assert uow.audits[0][0] == "clinical_note.break_glass" and uow.audits[0][2]["reason"] == "court order 123"


# -- B1-B4 ----------------------------------------------------------------------------------------------------------


def bail_case(**kw: object) -> BailCase:
    return replace(BailCase("D1", "08/1X", "lambeth"), **kw)  # type: ignore[arg-type]


async def test_b1_court_liaison_are_told_once_the_decision_is_made_and_again_only_when_it_changes(
    world: World,
) -> None:
    world.detentions["D1"] = detention(charged=True)
    uow = fake_uow(MANAGER)
    await bail_cases.reevaluate(uow, "D1", MONDAY)
    assert world.bail_cases["D1"].restriction is Restriction.pending and uow.events == []

    agreement = bail_cases.Agreement("D1", agreed=False, substantial_grounds=True, at=MONDAY)
    await bail_cases.record_agreement(uow, agreement, lambda area: None)
    (notice,) = uow.payloads()
    assert isinstance(notice, wire.BailNotice) and notice.rule_ids == ["B1", "B2"]
    await bail_cases.reevaluate(uow, "D1", MONDAY)
    assert len(uow.events) == 1


async def test_b2_the_court_outcome_is_recorded_once_and_a_condition_ends_the_requirements(
    world: World,
) -> None:
    world.bail_cases["D1"] = bail_case(restriction=Restriction.condition)
    waiting(world, "D1", "W1", imposed=True)
    uow = fake_uow(MANAGER)
    decision = bail_cases.CourtDecision(
        "D1", CourtOutcome.bail_with_assessment_condition, "Camberwell Green", date(2009, 2, 3), MONDAY
    )
    await bail_cases.record_outcome(uow, decision, lambda area: None, POLICY)
    assert world.stored("D1").status is Status.ended  # A7
    with pytest.raises(RuleViolation) as refused:
        await bail_cases.record_outcome(uow, decision, lambda area: None, POLICY)
    assert refused.value.rule_id == "B2"


async def test_b3_a_condition_sets_its_appointment_with_the_persons_worker_and_a_failure_is_the_breach(
    world: World,
) -> None:
    world.detentions["D1"] = detention(charged=True)
    world.workers = [worker("W1"), worker("W2")]
    world.bail_cases["D1"] = bail_case(restriction=Restriction.condition)
    waiting(world, "D1", "W2", imposed=True)
    uow = fake_uow(MANAGER)
    decision = bail_cases.CourtDecision(
        "D1", CourtOutcome.bail_with_assessment_condition, "Camberwell Green", TUESDAY, MONDAY
    )
    await bail_cases.record_outcome(uow, decision, lambda area: None, POLICY)
    case = world.bail_cases["D1"]
    wednesday = slot_time(date(2009, 2, 4), 0, POLICY)  # the first working day after the decision
    assert (case.condition_appointment_at, case.condition_worker_id) == (wednesday, "W2")
    (appointment,) = [p for p in uow.payloads() if isinstance(p, wire.ConditionAppointmentSet)]
    assert appointment.rule_ids == ["B3"] and not appointment.set_by_court
    assert uow.scheduled[(clocks.CONDITION_PASSED, "D1:condition")][0] == wednesday

    failed = bail_cases.ConditionAttendance(
        "D1", Outcome.failed_to_attend, False, wednesday + timedelta(hours=2)
    )
    await bail_cases.record_condition_attendance(uow, failed, lambda area: None)
    (breached,) = [p for p in uow.payloads() if isinstance(p, wire.BailConditionBreached)]
    assert breached.rule_ids == ["B4"] and world.bail_cases["D1"].breached_at is not None
    alert = uow.alerts[(clocks.CONDITION_FAILED, "D1")]
    assert (alert.role, alert.raised.rule_ids) == ("court_liaison", ("B3", "B4"))
    with pytest.raises(RuleViolation) as again:
        await bail_cases.record_condition_attendance(uow, failed, lambda area: None)
    assert again.value.rule_id == "B3"


async def test_b3_the_courts_time_and_place_are_kept_and_other_outcomes_set_no_appointment(
    world: World,
) -> None:
    world.detentions["D1"] = detention(charged=True)
    world.workers = [worker("W1")]
    world.bail_cases["D1"] = bail_case(restriction=Restriction.condition)
    uow = fake_uow(MANAGER)
    at = datetime(2009, 2, 5, 14, tzinfo=UTC)
    without = bail_cases.CourtDecision(
        "D1", CourtOutcome.bail_without_condition, "Camberwell Green", TUESDAY, MONDAY, at, "Court cells"
    )
    with pytest.raises(RuleViolation) as refused:
        await bail_cases.record_outcome(uow, without, lambda area: None, POLICY)
    assert refused.value.rule_id == "B3" and world.bail_cases["D1"].outcome is None
    decision = replace(without, outcome=CourtOutcome.bail_with_assessment_condition)
    await bail_cases.record_outcome(uow, decision, lambda area: None, POLICY)
    case = world.bail_cases["D1"]
    assert (case.condition_appointment_at, case.condition_place, case.condition_worker_id) == (
        at,
        "Court cells",
        "W1",
    )


async def test_b4_a_breach_needs_a_condition_to_undergo_assessment(world: World) -> None:
    world.bail_cases["D1"] = bail_case(outcome=CourtOutcome.bail_without_condition)
    uow = fake_uow(MANAGER)
    with pytest.raises(RuleViolation) as refused:
        await bail_cases.record_breach(
            uow, bail_cases.Breach("D1", MONDAY, "did not attend"), lambda area: None
        )
    assert refused.value.rule_id == "B4" and uow.events == [] and world.bail_cases["D1"].breached_at is None


async def test_b4_an_arrest_for_the_breach_is_before_a_justice_within_24_hours_not_counting_sunday(
    world: World,
) -> None:
    world.bail_cases["D1"] = bail_case(outcome=CourtOutcome.bail_with_assessment_condition)
    uow = fake_uow()
    await bail_cases.record_breach(uow, bail_cases.Breach("D1", MONDAY, "did not attend"), lambda area: None)
    saturday = datetime(2009, 2, 7, 10, tzinfo=UTC)
    await bail_cases.on_breach_arrest(uow, "08/1X", "D2", saturday)

    assert world.bail_cases["D1"].before_justice_by == saturday + timedelta(days=2)
    arrest = uow.payloads()[-1]
    assert isinstance(arrest, wire.BailBreachArrest) and arrest.arrest_detention_id == "D2"
    await bail_cases.on_breach_arrest(uow, "08/1X", "D3", saturday + timedelta(days=1))
    assert len(uow.events) == 2  # one arrest per breach

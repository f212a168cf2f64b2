"""The required assessment lifecycle (docs/rules.md A1-A8), pure: whether a positive result makes one possible (the
A1 gate), and each step, which checks the rules, changes the state and returns what happened as a typed event
(``domain/events.py``), or raises RuleViolation naming the rule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dipflow.errors import RuleViolation as RuleViolation
from dipflow.working_days import is_working_day, london_day
from dipflow_referral.domain.assignment import AppointmentPolicy, Proposal, Slot, first_slot_from
from dipflow_referral.domain.events import (
    BAIL_CONDITION,
    NEGATIVE_CONFIRMATION,
    AppointmentChanged,
    AttendanceRecorded,
    FailureNotified,
    FollowUpDecided,
    RequirementImposed,
    RequirementLapsed,
    RequirementsEnded,
    TreatmentEntered,
)
from dipflow_referral.domain.events import Kind as Kind
from dipflow_referral.domain.events import Outcome as Outcome

ADULT = 18
"""A1: the age from which a positive result makes a required assessment possible."""


class Status(StrEnum):
    proposed = "proposed"  # eligible; appointment proposed; not yet imposed
    imposed = "imposed"  # RA1 served: waiting for the initial assessment
    initial_attended = (
        "initial_attended"  # initial held (attended, or left early): follow-up decision (RA4/RA5)
    )
    follow_up_set = "follow_up_set"  # RA4 given: waiting for the follow-up assessment
    completed = "completed"
    failed = "failed"  # failed without good cause: the police were notified (A4, A5)
    lapsed = "lapsed"  # released before it was imposed (A1)
    ended = "ended"  # negative confirmation (A6) or superseded by a bail condition (A7)


def holds_slots(status: Status) -> bool:
    """A9: a requirement's appointments count towards their workers' loads in every status but lapsed and ended."""
    return status not in (Status.lapsed, Status.ended)


OPEN = frozenset({Status.proposed, Status.imposed, Status.initial_attended, Status.follow_up_set})
BEFORE_ATTENDANCE = (Status.proposed, Status.imposed)
"""Proposed or imposed: the initial appointment is still to come."""


def failure_wording(kind: Kind, outcome: Outcome) -> str:
    """What the person failed to do, as the police notification and the arrest request say it (A4, A5)."""
    name = "initial" if kind is Kind.initial else "follow-up"
    if outcome is Outcome.failed_to_remain:
        return f"failed without good cause to remain for the whole of the {name} assessment"
    return f"failed without good cause to attend the {name} assessment"


def failure_rule(kind: Kind) -> str:
    """A failure at the initial assessment is an A4 matter, at the follow-up an A5 one."""
    return "A4" if kind is Kind.initial else "A5"


@dataclass
class Appointment:
    at: datetime
    place: str
    worker_id: str | None


@dataclass(frozen=True)
class PositiveResult:
    """A positive result recorded in custody, with the facts the A1 gate is decided on."""

    person_id: str
    detention_id: str
    suite: str
    home_area: str
    drug: str
    disputed: bool
    age: int
    initial_notified: bool
    follow_up_notified: bool
    at: datetime


def assessment_id(detention_id: str) -> str:
    """One required assessment per detention: its id follows from the detention's."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:assessment:{detention_id}"))


def requirement_for(result: PositiveResult, *, released: bool) -> RequiredAssessment | None:
    """A1: a positive result of someone 18 or over, where the suite's area is notified for initial assessments on
    the day of the sample, makes a required assessment possible until the person is released; None otherwise."""
    if result.age < ADULT or not result.initial_notified or released:
        return None
    return RequiredAssessment(
        case_id=assessment_id(result.detention_id),
        person_id=result.person_id,
        detention_id=result.detention_id,
        suite=result.suite,
        home_area=result.home_area,
        positive_drugs={result.drug},
        result_at=result.at,
        disputed=result.disputed,
        follow_up_notified=result.follow_up_notified,
    )


@dataclass
class RequiredAssessment:
    case_id: str
    person_id: str
    detention_id: str
    suite: str
    home_area: str
    positive_drugs: set[str]
    result_at: datetime
    disputed: bool
    follow_up_notified: bool
    status: Status = Status.proposed
    initial: Appointment | None = None
    follow_up: Appointment | None = None
    follow_up_imposed: bool = False
    imposed_at: datetime | None = None
    released_at: datetime | None = None
    ended_reason: str | None = None
    needs_new_notice: bool = False
    failures: list[FailureNotified] = field(default_factory=list)
    entered_treatment_at: datetime | None = None
    prosecution_dropped: bool = False
    earliest_day: date | None = None  # A3: the first day an initial appointment may be on
    dispatched_at: datetime | None = None  # T12/A3: when the disputed sample was sent for confirmation
    attended: list[str] = field(default_factory=list)  # the kinds of assessment attended (RA3)

    @property
    def confirmation_clock_from(self) -> datetime:
        """A3: the working days a disputed result waits run from the dispatch (from the result until it is
        known)."""
        return self.dispatched_at or self.result_at

    @property
    def workers(self) -> set[str]:
        """The workers its appointments are assigned to (who, as workers, may see it)."""
        return {
            x.worker_id for x in (self.initial, self.follow_up) if x is not None and x.worker_id is not None
        }

    @property
    def holds_slots(self) -> bool:
        """A9: its appointments count towards their workers' loads until the requirement lapses or ends (A1, A6,
        A7), which frees them."""
        return holds_slots(self.status)

    def appointment(self, kind: Kind) -> Appointment | None:
        return self.initial if kind is Kind.initial else self.follow_up

    def another_positive(self, drug: str, disputed: bool) -> bool:
        """A1: a further positive result in the same detention joins a requirement whose initial appointment is
        still to come; after that it changes nothing. True when it joined."""
        if self.status not in BEFORE_ATTENDANCE:
            return False
        self.positive_drugs.add(drug)
        self.disputed = self.disputed or disputed
        return True

    def propose_initial(self, proposal: Proposal, policy: AppointmentPolicy) -> None:
        """A3/A9: the proposed initial appointment; with nobody free in the window, the first slot of its first
        working day, with no worker (the unassigned queue)."""
        self.earliest_day = proposal.earliest
        if proposal.at is not None:
            self.initial = Appointment(proposal.at, policy.default_place, proposal.worker_id)
        else:
            first = first_slot_from(proposal.earliest or london_day(self.result_at), policy)
            self.initial = Appointment(first, policy.default_place, None)

    def sample_dispatched(self, at: datetime, earliest_day: date) -> None:
        """T12/A3: the disputed sample was sent for confirmation; no initial appointment before ``earliest_day``."""
        self.dispatched_at = at
        self.earliest_day = max(earliest_day, self.earliest_day or earliest_day)

    def initial_too_early(self) -> bool:
        """A3: a waiting initial appointment falls before the first day a disputed result allows."""
        if self.earliest_day is None or self.initial is None or self.status not in BEFORE_ATTENDANCE:
            return False
        return london_day(self.initial.at) < self.earliest_day

    def move_initial(
        self, new_at: datetime, worker_id: str | None, at: datetime
    ) -> AppointmentChanged | None:
        """A3: an initial appointment that became too early moves to ``new_at`` with ``worker_id``; once imposed the
        move is served as RA2 (a re-slot by the system, not a time a person chose)."""
        assert self.initial is not None
        changed = None
        if self.status is Status.imposed:
            changed = self.change_appointment(Kind.initial, at, new_at, self.initial.place, checked=False)
        self.initial.at = new_at
        self.initial.worker_id = worker_id
        return changed

    def give_to(self, kind: Kind, slot: Slot | None, at: datetime) -> AppointmentChanged | None:
        """A9: the appointment of ``kind`` goes to the slot's worker at the slot's time (None: to nobody, the
        unassigned queue). Once the requirement is imposed a changed time is served as RA2."""
        appointment = self.appointment(kind)
        assert appointment is not None
        appointment.worker_id = slot.worker_id if slot else None
        if slot is None:
            return None
        changed = None
        if slot.at != appointment.at and self.status is not Status.proposed:
            changed = self.change_appointment(kind, at, slot.at, appointment.place, checked=False)
        appointment.at = slot.at
        return changed

    def for_a_manager_to_assign(self, kind: Kind) -> Appointment:
        """A9: the appointment a manager may give to a named worker: the proposed initial one, or the waiting one
        of ``kind``."""
        appointment = self.initial if self.status is Status.proposed else self.appointment_waiting(kind)
        if appointment is None:
            raise RuleViolation("A9", "no appointment is waiting")
        return appointment

    def requirement_states(self) -> tuple[str, str]:
        """Where each requirement stands: (initial, follow-up), each one of ``proposed``, ``in_force``, ``met``,
        ``failed``, ``ended``, ``lapsed`` or ``not_imposed``."""
        failed = {f.kind for f in self.failures}
        if self.status in (Status.lapsed, Status.proposed):
            current = str(self.status)
            return current, current if self.follow_up_notified else "not_imposed"
        ended = self.status is Status.ended

        def state(kind: Kind, in_force: bool) -> str:
            if kind in failed:
                return "failed"
            if str(kind) in self.attended:
                return "met"
            return "ended" if ended or not in_force else "in_force"

        follow_up = (
            state(Kind.follow_up, self.follow_up_imposed) if self.follow_up_notified else "not_imposed"
        )
        return state(Kind.initial, True), follow_up

    def check_time(self, kind: Kind, appointment_at: datetime, served_at: datetime) -> None:
        """A3 for a time a person chose: after the notice is served, on a working day, and for a disputed result
        no earlier than the confirmation allows."""
        day = london_day(appointment_at)
        if appointment_at <= served_at:
            raise RuleViolation("A3", "the appointment must be after the notice is served")
        if not is_working_day(day):
            raise RuleViolation("A3", f"{day:%a %d %b %Y} is not a working day")
        if kind is Kind.initial and self.disputed and self.earliest_day and day < self.earliest_day:
            raise RuleViolation(
                "A3",
                f"the result is disputed: no appointment before {self.earliest_day:%d %b %Y} "
                "(5 working days after the sample was sent for confirmation)",
            )

    # -- A1, A2, A3 -------------------------------------------------------------------------------------------
    def impose(self, at: datetime, place: str, appointment_at: datetime | None = None) -> RequirementImposed:
        """RA1: impose the initial requirement (and the follow-up, where notified) before release."""
        if self.released_at is not None and at >= self.released_at:
            raise RuleViolation(
                "A1", "the person has been released: a required assessment cannot be imposed afterwards"
            )
        if self.status is not Status.proposed:
            raise RuleViolation("A1", f"the requirement is {self.status}, not waiting to be imposed")
        if appointment_at is not None:
            self.check_time(Kind.initial, appointment_at, at)
        elif self.initial is not None:
            appointment_at = self.initial.at
        else:
            raise RuleViolation("A3", "no appointment: give a time and place (none could be proposed)")
        worker = self.initial.worker_id if self.initial else None
        self.initial = Appointment(appointment_at, place, worker)
        self.status = Status.imposed
        self.imposed_at = at
        self.follow_up_imposed = self.follow_up_notified
        return RequirementImposed(
            at=at,
            rule_ids=("A1", "A2", "A3") if self.follow_up_imposed else ("A1", "A3"),
            appointment_at=appointment_at,
            place=place,
            worker_id=worker,
            follow_up_imposed=self.follow_up_imposed,
        )

    def release(self, at: datetime) -> RequirementLapsed | None:
        """A1: released before imposition, the requirement lapses and cannot be imposed later."""
        self.released_at = at
        if self.status is Status.proposed:
            self.status = Status.lapsed
            self.ended_reason = "released before the requirement was imposed"
            return RequirementLapsed(at=at, rule_ids=("A1",), reason=self.ended_reason)
        return None

    def change_appointment(
        self, kind: Kind, at: datetime, new_at: datetime, place: str, *, checked: bool = True
    ) -> AppointmentChanged:
        """RA2: a written notice changing the time or place. A time chosen by a person is checked (A3); a
        re-slot by the system (leave, queue) keeps the day it had."""
        appointment = self.appointment_waiting(kind)
        if checked:
            self.check_time(kind, new_at, at)
        appointment.at = new_at
        appointment.place = place
        self.needs_new_notice = False
        return AppointmentChanged(
            at=at,
            rule_ids=("A3",),
            kind=kind,
            appointment_at=new_at,
            place=place,
            worker_id=appointment.worker_id,
        )

    def appointment_waiting(self, kind: Kind) -> Appointment:
        """The appointment of ``kind`` the person must now attend (A3)."""
        if kind is Kind.initial and self.status is Status.imposed and self.initial is not None:
            return self.initial
        if kind is Kind.follow_up and self.status is Status.follow_up_set and self.follow_up is not None:
            return self.follow_up
        raise RuleViolation("A3", f"no {kind} appointment is waiting (the requirement is {self.status})")

    def waiting_appointments(self) -> dict[Kind, Appointment]:
        """The appointments the person must now attend, by kind: an attendance is due at each (A4, A5)."""
        found: dict[Kind, Appointment] = {}
        for kind in Kind:
            try:
                found[kind] = self.appointment_waiting(kind)
            except RuleViolation:
                continue
        return found

    # -- A4, A5 -----------------------------------------------------------------------------------------------
    def record_attendance(
        self, kind: Kind, outcome: Outcome, good_cause: bool, at: datetime
    ) -> list[AttendanceRecorded | FailureNotified]:
        """RA3: the assessor records what happened. A failure without good cause to attend or to remain is
        notified to the police and is an offence (A4, A5). Only failing to *attend* the initial assessment ends
        the follow-up; after a failure to remain the assessor may still set it (RA4) or end it (RA5)."""
        appointment = self.appointment_waiting(kind)
        rule = failure_rule(kind)
        recorded = AttendanceRecorded(
            at=at,
            rule_ids=(rule,),
            kind=kind,
            outcome=outcome,
            good_cause=good_cause,
            appointment_at=appointment.at,
            place=appointment.place,
            worker_id=appointment.worker_id,
        )
        if outcome is Outcome.attended:
            self.attended.append(str(kind))
            if kind is Kind.initial:
                self.status = Status.initial_attended if self.follow_up_imposed else Status.completed
            else:
                self.status = Status.completed
            return [recorded]
        if good_cause:
            self.needs_new_notice = True
            return [recorded]
        ended_follow_up = (
            kind is Kind.initial and outcome is Outcome.failed_to_attend and self.follow_up_imposed
        )
        self.follow_up_imposed = self.follow_up_imposed and not ended_follow_up
        still_to_decide = (
            kind is Kind.initial and outcome is Outcome.failed_to_remain and self.follow_up_imposed
        )
        self.status = Status.initial_attended if still_to_decide else Status.failed
        failure = FailureNotified(
            at=at,
            rule_ids=(rule,),
            kind=kind,
            outcome=outcome,
            good_cause=good_cause,
            appointment_at=appointment.at,
            place=appointment.place,
            worker_id=appointment.worker_id,
            imposed_at=self.imposed_at,
            requirement_notice="RA1" if kind is Kind.initial else "RA4",
            follow_up_ended=ended_follow_up,
            offence="DA05 s.12(3)" if kind is Kind.initial else "DA05 s.14(3)",
            what=failure_wording(kind, outcome),
        )
        self.failures.append(failure)
        return [recorded, failure]

    def decide_follow_up(
        self, at: datetime, needed: bool, appointment: Appointment | None
    ) -> FollowUpDecided:
        """A5: at the initial assessment the assessor ends the follow-up (RA5) or sets it (RA4)."""
        if self.status is not Status.initial_attended:
            raise RuleViolation(
                "A5", f"the follow-up is decided at the initial assessment (now {self.status})"
            )
        if not needed:
            self.status = Status.completed
            self.follow_up_imposed = False
            return FollowUpDecided(at=at, rule_ids=("A2", "A5"), needed=False)
        if appointment is None:
            raise RuleViolation("A5", "a follow-up needs a time and place (RA4)")
        self.follow_up = appointment
        self.status = Status.follow_up_set
        return FollowUpDecided(
            at=at,
            rule_ids=("A5",),
            needed=True,
            appointment_at=appointment.at,
            place=appointment.place,
            worker_id=appointment.worker_id,
        )

    # -- A6, A7 -----------------------------------------------------------------------------------------------
    def confirmed_negative(self, drug: str, at: datetime) -> RequirementsEnded | None:
        """A6: when no positive drug is left after confirmation, both requirements end, the person is told (a
        notice), and any prosecution for earlier failures is dropped."""
        self.positive_drugs.discard(drug)
        if self.positive_drugs or self.status in (Status.lapsed, Status.ended):
            return None
        self.prosecution_dropped = bool(self.failures)
        self.status = Status.ended
        self.follow_up_imposed = False
        self.ended_reason = "confirmatory analysis found no specified drug"
        return RequirementsEnded(
            at=at,
            rule_ids=("A6",),
            reason=NEGATIVE_CONFIRMATION,
            prosecution_dropped=self.prosecution_dropped,
        )

    def superseded_by_bail_condition(self, at: datetime) -> RequirementsEnded | None:
        """A7: a court bail condition to undergo assessment ends the requirements; failures before it stay
        actionable."""
        if self.status not in OPEN:
            return None
        self.status = Status.ended
        self.ended_reason = "superseded by a bail condition to undergo assessment"
        return RequirementsEnded(
            at=at, rule_ids=("A7",), reason=BAIL_CONDITION, failures_still_actionable=bool(self.failures)
        )

    def entered_treatment(self, at: datetime) -> TreatmentEntered:
        if self.status in (Status.proposed, Status.imposed, Status.lapsed):
            raise RuleViolation("A4", "treatment follows an attended assessment")
        self.entered_treatment_at = at
        return TreatmentEntered(at=at, rule_ids=("K4",))

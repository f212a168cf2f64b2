"""The required assessment lifecycle (docs/rules.md A1-A8), pure: each step checks the rules, changes the state and
returns what happened (for the events and the notices), or raises RuleViolation naming the rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dipflow.working_days import is_working_day

LONDON = ZoneInfo("Europe/London")


class RuleViolation(Exception):
    def __init__(self, rule_id: str, reason: str) -> None:
        super().__init__(f"{rule_id}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


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


class Kind(StrEnum):
    initial = "initial"
    follow_up = "follow_up"


class Outcome(StrEnum):
    attended = "attended"
    failed_to_attend = "failed_to_attend"
    failed_to_remain = "failed_to_remain"


OPEN = frozenset({Status.proposed, Status.imposed, Status.initial_attended, Status.follow_up_set})


def failure_wording(kind: Kind, outcome: Outcome) -> str:
    """What the person failed to do, as the police notification and the arrest request say it (A4, A5)."""
    name = "initial" if kind is Kind.initial else "follow-up"
    if outcome is Outcome.failed_to_remain:
        return f"failed without good cause to remain for the whole of the {name} assessment"
    return f"failed without good cause to attend the {name} assessment"


@dataclass
class Appointment:
    at: datetime
    place: str
    worker_id: str | None


@dataclass(frozen=True)
class Step:
    """What a step did: an event kind, its facts, the notice form served (RA1-RA5) if any, and rule ids."""

    kind: str
    at: datetime
    facts: dict[str, Any]
    rule_ids: tuple[str, ...]
    notice: str | None = None


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
    failures: list[dict[str, Any]] = field(default_factory=list)
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

    def sample_dispatched(self, at: datetime, earliest_day: date) -> None:
        """T12/A3: the disputed sample was sent for confirmation; no initial appointment before ``earliest_day``."""
        self.dispatched_at = at
        self.earliest_day = max(earliest_day, self.earliest_day or earliest_day)

    def initial_too_early(self) -> bool:
        """A3: a waiting initial appointment falls before the first day a disputed result allows."""
        if (
            self.earliest_day is None
            or self.initial is None
            or self.status not in (Status.proposed, Status.imposed)
        ):
            return False
        return self.initial.at.astimezone(LONDON).date() < self.earliest_day

    def requirement_states(self) -> tuple[str, str]:
        """Where each requirement stands: (initial, follow-up), each one of ``proposed``, ``in_force``, ``met``,
        ``failed``, ``ended``, ``lapsed`` or ``not_imposed``."""
        failed = {f["kind"] for f in self.failures}
        if self.status in (Status.lapsed, Status.proposed):
            current = str(self.status)
            return current, current if self.follow_up_notified else "not_imposed"
        ended = self.status is Status.ended

        def state(kind: Kind, in_force: bool) -> str:
            if str(kind) in failed:
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
        day = appointment_at.astimezone(LONDON).date()
        if appointment_at <= served_at:
            raise RuleViolation("A3", "the appointment must be after the notice is served")
        if not is_working_day(day):
            raise RuleViolation("A3", f"{day:%a %d %b %Y} is not a working day")
        if kind is Kind.initial and self.disputed and self.earliest_day and day < self.earliest_day:
            raise RuleViolation(
                "A3", f"the result is disputed: no appointment before {self.earliest_day:%d %b %Y} "
                "(5 working days after the sample was sent for confirmation)",
            )  # fmt: skip

    # -- A1, A2, A3 -------------------------------------------------------------------------------------------
    def impose(self, at: datetime, place: str, appointment_at: datetime | None = None) -> Step:
        """RA1: impose the initial requirement (and the follow-up, where notified) before release."""
        if self.released_at is not None and at >= self.released_at:
            raise RuleViolation(
                "A1", "the person has been released: a required assessment cannot be imposed afterwards"
            )
        if self.status is not Status.proposed:
            raise RuleViolation("A1", f"the requirement is {self.status}, not waiting to be imposed")
        if self.initial is None and appointment_at is None:
            raise RuleViolation("A3", "no appointment: give a time and place (none could be proposed)")
        if appointment_at is not None:
            self.check_time(Kind.initial, appointment_at, at)
        worker = self.initial.worker_id if self.initial else None
        self.initial = Appointment(appointment_at or self.initial.at, place, worker)  # type: ignore[union-attr]
        self.status = Status.imposed
        self.imposed_at = at
        self.follow_up_imposed = self.follow_up_notified
        rules = ("A1", "A2", "A3") if self.follow_up_imposed else ("A1", "A3")
        return Step("requirement_imposed", at, {
            "appointment_at": self.initial.at.isoformat(), "place": place, "worker_id": worker,
            "follow_up_imposed": self.follow_up_imposed,
        }, rules, notice="RA1")  # fmt: skip

    def release(self, at: datetime) -> Step | None:
        """A1: released before imposition, the requirement lapses and cannot be imposed later."""
        self.released_at = at
        if self.status is Status.proposed:
            self.status = Status.lapsed
            self.ended_reason = "released before the requirement was imposed"
            return Step("requirement_lapsed", at, {"reason": self.ended_reason}, ("A1",))
        return None

    def change_appointment(
        self, kind: Kind, at: datetime, new_at: datetime, place: str, *, checked: bool = True
    ) -> Step:
        """RA2: a written notice changing the time or place. A time chosen by a person is checked (A3); a
        re-slot by the system (leave, queue) keeps the day it had."""
        appointment = self._appointment_waiting(kind)
        if checked:
            self.check_time(kind, new_at, at)
        appointment.at = new_at
        appointment.place = place
        self.needs_new_notice = False
        return Step("appointment_changed", at, {"kind": str(kind), "appointment_at": new_at.isoformat(), "place": place,
                                                "worker_id": appointment.worker_id}, ("A3",), notice="RA2")  # fmt: skip

    def _appointment_waiting(self, kind: Kind) -> Appointment:
        if kind is Kind.initial and self.status is Status.imposed and self.initial is not None:
            return self.initial
        if kind is Kind.follow_up and self.status is Status.follow_up_set and self.follow_up is not None:
            return self.follow_up
        raise RuleViolation("A3", f"no {kind} appointment is waiting (the requirement is {self.status})")

    # -- A4, A5 -----------------------------------------------------------------------------------------------
    def record_attendance(self, kind: Kind, outcome: Outcome, good_cause: bool, at: datetime) -> list[Step]:
        """RA3: the assessor records what happened. A failure without good cause to attend or to remain is
        notified to the police and is an offence (A4, A5). Only failing to *attend* the initial assessment ends
        the follow-up; after a failure to remain the assessor may still set it (RA4) or end it (RA5)."""
        appointment = self._appointment_waiting(kind)
        rule = "A4" if kind is Kind.initial else "A5"
        facts = {"kind": str(kind), "outcome": str(outcome), "good_cause": good_cause,
                 "appointment_at": appointment.at.isoformat(), "place": appointment.place,
                 "worker_id": appointment.worker_id}  # fmt: skip
        steps = [Step("attendance_recorded", at, facts, (rule,), notice="RA3")]
        if outcome is Outcome.attended:
            self.attended.append(str(kind))
            if kind is Kind.initial:
                self.status = Status.initial_attended if self.follow_up_imposed else Status.completed
            else:
                self.status = Status.completed
            return steps
        if good_cause:
            self.needs_new_notice = True
            return steps
        ended_follow_up = (
            kind is Kind.initial and outcome is Outcome.failed_to_attend and self.follow_up_imposed
        )
        self.follow_up_imposed = self.follow_up_imposed and not ended_follow_up
        still_to_decide = (
            kind is Kind.initial and outcome is Outcome.failed_to_remain and self.follow_up_imposed
        )
        self.status = Status.initial_attended if still_to_decide else Status.failed
        failure = {**facts, "imposed_at": self.imposed_at.isoformat() if self.imposed_at else None,
                   "notice": "RA1" if kind is Kind.initial else "RA4", "follow_up_ended": ended_follow_up,
                   "offence": "DA05 s.12(3)" if kind is Kind.initial else "DA05 s.14(3)",
                   "what": failure_wording(kind, outcome)}  # fmt: skip
        self.failures.append(failure)
        steps.append(Step("failure_notified", at, failure, (rule,)))
        return steps

    def decide_follow_up(self, at: datetime, needed: bool, appointment: Appointment | None) -> Step:
        """A5: at the initial assessment the assessor ends the follow-up (RA5) or sets it (RA4)."""
        if self.status is not Status.initial_attended:
            raise RuleViolation(
                "A5", f"the follow-up is decided at the initial assessment (now {self.status})"
            )
        if not needed:
            self.status = Status.completed
            self.follow_up_imposed = False
            return Step("follow_up_decided", at, {"needed": False}, ("A2", "A5"), notice="RA5")
        if appointment is None:
            raise RuleViolation("A5", "a follow-up needs a time and place (RA4)")
        self.follow_up = appointment
        self.status = Status.follow_up_set
        return Step("follow_up_decided", at, {"needed": True, "appointment_at": appointment.at.isoformat(),
                                              "place": appointment.place, "worker_id": appointment.worker_id},
                    ("A5",), notice="RA4")  # fmt: skip

    # -- A6, A7 -----------------------------------------------------------------------------------------------
    def confirmed_negative(self, drug: str, at: datetime) -> Step | None:
        """A6: when no positive drug is left after confirmation, both requirements end, the person is told (a
        notice), and any prosecution for earlier failures is dropped."""
        self.positive_drugs.discard(drug)
        if self.positive_drugs or self.status in (Status.lapsed, Status.ended):
            return None
        self.prosecution_dropped = bool(self.failures)
        self.status = Status.ended
        self.follow_up_imposed = False
        self.ended_reason = "confirmatory analysis found no specified drug"
        return Step("requirements_ended", at, {"reason": "negative_confirmation",
                                               "prosecution_dropped": self.prosecution_dropped}, ("A6",),
                    notice="A6")  # fmt: skip

    def superseded_by_bail_condition(self, at: datetime) -> Step | None:
        """A7: a court bail condition to undergo assessment ends the requirements; failures before it stay
        actionable."""
        if self.status not in OPEN:
            return None
        self.status = Status.ended
        self.ended_reason = "superseded by a bail condition to undergo assessment"
        return Step("requirements_ended", at, {"reason": "bail_condition", "failures_still_actionable": bool(self.failures)},
                    ("A7",))  # fmt: skip

    def entered_treatment(self, at: datetime) -> Step:
        if self.status in (Status.proposed, Status.imposed, Status.lapsed):
            raise RuleViolation("A4", "treatment follows an attended assessment")
        self.entered_treatment_at = at
        return Step("treatment_entered", at, {}, ("K4",))

"""What happens to a required assessment, as its rules tell it (docs/rules.md A1-A7, K4): one typed event per
change, with when it happened, the rule ids that decided it and the written notice it serves (RA1-RA5, or the A6
notice). The service layer publishes each as its wire event (``contracts/events.py``) and serves its notice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    initial = "initial"
    follow_up = "follow_up"


class Outcome(StrEnum):
    attended = "attended"
    failed_to_attend = "failed_to_attend"
    failed_to_remain = "failed_to_remain"


NEGATIVE_CONFIRMATION = "negative_confirmation"
BAIL_CONDITION = "bail_condition"


@dataclass(frozen=True, kw_only=True)
class AssessmentEvent:
    at: datetime
    rule_ids: tuple[str, ...]

    @property
    def notice(self) -> str | None:
        """The written notice served with this change (RA1-RA5, or A6), if any."""
        return None


@dataclass(frozen=True, kw_only=True)
class RequirementImposed(AssessmentEvent):
    """RA1: the initial requirement, and the follow-up where notified, imposed before release (A1-A3)."""

    appointment_at: datetime
    place: str
    worker_id: str | None
    follow_up_imposed: bool

    @property
    def notice(self) -> str:
        return "RA1"


@dataclass(frozen=True, kw_only=True)
class RequirementLapsed(AssessmentEvent):
    """A1: released before it was imposed."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class AppointmentChanged(AssessmentEvent):
    """RA2: a written notice changed the time or place (A3)."""

    kind: Kind
    appointment_at: datetime
    place: str
    worker_id: str | None

    @property
    def notice(self) -> str:
        return "RA2"


@dataclass(frozen=True, kw_only=True)
class AttendanceRecorded(AssessmentEvent):
    """RA3: what happened at an appointment (A4, A5); no clinical content (A8)."""

    kind: Kind
    outcome: Outcome
    good_cause: bool
    appointment_at: datetime
    place: str
    worker_id: str | None

    @property
    def notice(self) -> str:
        return "RA3"


@dataclass(frozen=True, kw_only=True)
class FailureNotified(AssessmentEvent):
    """A4/A5: a failure without good cause, with what the police need for a statement: the offence, the notice
    that imposed the requirement (``requirement_notice``, RA1 or RA4) and the failure in words."""

    kind: Kind
    outcome: Outcome
    good_cause: bool
    appointment_at: datetime
    place: str
    worker_id: str | None
    imposed_at: datetime | None
    requirement_notice: str
    follow_up_ended: bool
    offence: str
    what: str


@dataclass(frozen=True, kw_only=True)
class FollowUpDecided(AssessmentEvent):
    """A5: at the initial assessment the follow-up is ended (RA5) or given a time and place (RA4)."""

    needed: bool
    appointment_at: datetime | None = None
    place: str | None = None
    worker_id: str | None = None

    @property
    def notice(self) -> str:
        return "RA4" if self.needed else "RA5"


@dataclass(frozen=True, kw_only=True)
class RequirementsEnded(AssessmentEvent):
    """A6 (a negative confirmation: the person is told, a prosecution for earlier failures dropped) or A7 (a
    court's bail condition supersedes the requirements; earlier failures stay actionable)."""

    reason: str
    prosecution_dropped: bool = False
    failures_still_actionable: bool = False

    @property
    def notice(self) -> str | None:
        return "A6" if self.reason == NEGATIVE_CONFIRMATION else None


@dataclass(frozen=True, kw_only=True)
class TreatmentEntered(AssessmentEvent):
    """K4: the person entered treatment after an attended assessment."""

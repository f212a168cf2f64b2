"""Restriction on bail (docs/rules.md B1-B4), pure: the B1 classification of offences, the B1 decision, and the
bail case of a charged detention (``BailCase``): its decision as the facts change, the court's outcome recorded
once (B2), the appointment under a condition to undergo assessment and the person's attendance at it (B3), a
breach of the condition and the arrest for it (B4).

B1 applies when all of: aged 18 or over; a positive s.63B sample for a specified Class A drug; charged with
MDA s.5(2) or s.5(3) involving a specified Class A drug, or substantial grounds that Class A misuse caused,
contributed to or motivated the offence; offered an assessment (or follow-up) and did not agree; the area
where the person would live has arrangements notified to the court. Every specified drug is Class A (MDA 1971
Sch 2 Part 1), so any positive for a specified drug counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from dipflow.errors import RuleViolation
from dipflow.working_days import before_justice_by, london_day
from dipflow_referral.domain.detention import UNKNOWN_AREA, Detention
from dipflow_referral.domain.events import Outcome

CLASS_A_POSSESSION = frozenset({"MDA1971-s5(2)", "MDA1971-s5(3)"})
BAIL_CONDITION_ARREST = "BA1976-s7"
"""B4: the power to arrest without warrant someone who broke a bail condition (BA76 s.7(3))."""


def is_class_a_possession(code: str, trigger_offence: bool) -> bool:
    """B1: possession (MDA s.5(2) or s.5(3)) involving a *specified* Class A drug on the offence date. Custody's
    trigger check for those offences is exactly that: CJCSA Sch 6 lists them only for specified Class A drugs."""
    return code in CLASS_A_POSSESSION and trigger_offence


class CourtOutcome(StrEnum):
    bail_refused = "bail_refused"
    bail_with_assessment_condition = "bail_with_assessment_condition"  # B3, and A7 for the requirements
    bail_without_condition = "bail_without_condition"


class Restriction(StrEnum):
    applies = "applies"  # B2: bail only if the court is satisfied there is no significant risk of offending
    condition = "condition"  # B3: agreed; if bailed, a condition to undergo assessment and any follow-up
    does_not_apply = "does_not_apply"
    pending = "pending"  # waiting to know whether the person agrees to an assessment


@dataclass(frozen=True)
class BailFacts:
    age: int | None
    positive_drugs: frozenset[str]
    charged_codes: frozenset[str]
    class_a_offence_codes: frozenset[str]  # offences in the detention recorded with a Class A drug
    substantial_grounds: bool | None  # None: not yet considered
    agreed_to_assessment: bool | None
    area_notified: bool
    home_area: str


@dataclass(frozen=True)
class BailDecision:
    restriction: Restriction
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]


def evaluate_restriction(f: BailFacts) -> BailDecision:
    """What the court and CPS liaison must be told, with the reasons for each condition of B1."""
    unmet: list[str] = []
    met: list[str] = []
    if f.age is None or f.age < 18:
        unmet.append(f"aged {f.age if f.age is not None else 'unknown'}: the restriction is for 18 and over")
    else:
        met.append(f"aged {f.age}")
    if f.positive_drugs:
        met.append(f"positive for {', '.join(sorted(f.positive_drugs))} (specified Class A)")
    else:
        unmet.append("no positive sample for a specified Class A drug")
    class_a_charge = sorted(f.charged_codes & CLASS_A_POSSESSION & f.class_a_offence_codes)
    if class_a_charge:
        met.append(f"charged with {', '.join(class_a_charge)} involving a specified Class A drug")
    elif f.substantial_grounds:
        met.append("substantial grounds that Class A misuse caused, contributed to or motivated the offence")
    elif f.substantial_grounds is False:
        unmet.append(
            "not charged with Class A possession and no substantial grounds that Class A misuse was behind it"
        )
    if f.area_notified:
        met.append(f"arrangements notified for {f.home_area}")
    else:
        unmet.append(f"no assessment arrangements notified for {f.home_area}, where the person would live")
    if unmet:
        return BailDecision(Restriction.does_not_apply, ("B1",), tuple(unmet))
    waiting = []
    if not class_a_charge and f.substantial_grounds is None:
        waiting.append(
            "not yet recorded whether there are substantial grounds that Class A misuse was behind it"
        )
    if f.agreed_to_assessment is None:
        waiting.append("not yet known whether the person agrees to an assessment")
    if waiting:
        return BailDecision(Restriction.pending, ("B1",), (*met, *waiting))
    if f.agreed_to_assessment:
        return BailDecision(
            Restriction.condition,
            ("B1", "B3"),
            (
                *met,
                "agreed to an assessment: if bailed, bail carries a condition to undergo it and any follow-up",
            ),
        )
    return BailDecision(
        Restriction.applies,
        ("B1", "B2"),
        (
            *met,
            "offered an assessment and did not agree: bail may not be granted unless the court is satisfied "
            "there is no significant risk of offending on bail",
        ),
    )


@dataclass
class BailCase:
    """The restriction-on-bail case of one charged detention with a positive result, in the suite's ``area``."""

    detention_id: str
    person_id: str
    area: str
    agreed: bool | None = None
    substantial_grounds: bool | None = None
    restriction: Restriction | None = None
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    notified_at: datetime | None = None
    outcome: CourtOutcome | None = None
    court: str | None = None
    decided_on: date | None = None
    breached_at: datetime | None = None
    breach_what: str | None = None
    arrested_at: datetime | None = None
    before_justice_by: datetime | None = None
    condition_appointment_at: datetime | None = None
    condition_place: str | None = None
    condition_worker_id: str | None = None
    condition_attendance: Outcome | None = None
    condition_good_cause: bool | None = None
    condition_attended_at: datetime | None = None

    def record_agreement(self, agreed: bool, substantial_grounds: bool | None) -> None:
        """B1: whether the person agreed to an assessment; the grounds, when given, replace the recorded ones."""
        self.agreed = agreed
        if substantial_grounds is not None:
            self.substantial_grounds = substantial_grounds

    def decide(self, detention: Detention, at: datetime) -> BailDecision | None:
        """B1 on the facts now: the decision when it (or its reasons) changed, else None. A decision other than
        pending is one court and CPS liaison are told of (``notified_at``)."""
        decision = evaluate_restriction(
            BailFacts(
                age=detention.age,
                positive_drugs=detention.positive_drugs,
                charged_codes=detention.charged_codes,
                class_a_offence_codes=detention.class_a_offence_codes,
                substantial_grounds=self.substantial_grounds,
                agreed_to_assessment=self.agreed,
                area_notified=bool(detention.restriction_notified),
                home_area=detention.home_area or UNKNOWN_AREA,
            )
        )
        if self.restriction == decision.restriction and self.reasons == decision.reasons:
            return None
        self.restriction, self.rule_ids, self.reasons = (
            decision.restriction,
            decision.rule_ids,
            decision.reasons,
        )
        if decision.restriction is not Restriction.pending:
            self.notified_at = at
        return decision

    def record_outcome(self, outcome: CourtOutcome, court: str, decided_on: date) -> None:
        """B2: the court's decision is recorded once."""
        if self.outcome is not None:
            raise RuleViolation("B2", f"the court outcome was already recorded ({self.outcome})")
        self.outcome, self.court, self.decided_on = outcome, court, decided_on

    @property
    def with_assessment_condition(self) -> bool:
        """B3: bailed with a condition to undergo the assessment (which supersedes the requirements, A7)."""
        return self.outcome is CourtOutcome.bail_with_assessment_condition

    def set_condition_appointment(self, at: datetime, place: str, worker_id: str | None) -> None:
        """B3: the appointment the person must attend under the condition to undergo assessment, set once, no
        earlier than the day of the court's decision."""
        if not self.with_assessment_condition:
            raise RuleViolation("B3", "only a bail condition to undergo assessment sets an appointment")
        if self.condition_appointment_at is not None:
            raise RuleViolation("B3", "the condition's appointment is already set")
        assert self.decided_on is not None
        if london_day(at) < self.decided_on:
            raise RuleViolation("B3", f"the appointment is before the court's decision of {self.decided_on}")
        self.condition_appointment_at, self.condition_place, self.condition_worker_id = at, place, worker_id

    @property
    def awaits_condition_attendance(self) -> bool:
        """B3: the condition's appointment is set and nobody has recorded whether the person attended."""
        return self.condition_appointment_at is not None and self.condition_attendance is None

    @property
    def condition_complied(self) -> bool | None:
        """B3: whether the person underwent the assessment under the condition (None: not known yet, or failed
        with good cause)."""
        if self.condition_attendance is Outcome.attended:
            return True
        if self.condition_attendance is not None and not self.condition_good_cause:
            return False
        return None

    def record_condition_attendance(self, outcome: Outcome, good_cause: bool, at: datetime) -> str | None:
        """B3: what happened at the condition's appointment, once, after its time. A failure to attend or to
        remain without good cause breaks the condition (B4, unless a breach is already recorded): what was
        broken, in words; else None."""
        if not self.with_assessment_condition or self.condition_appointment_at is None:
            raise RuleViolation("B3", "there is no appointment under a bail condition to undergo assessment")
        if self.condition_attendance is not None:
            raise RuleViolation(
                "B3", f"attendance at the condition's appointment is recorded ({self.condition_attendance})"
            )
        if at < self.condition_appointment_at:
            raise RuleViolation(
                "B3",
                f"the condition's appointment of {self.condition_appointment_at:%d %b %Y %H:%M} has not come",
            )
        self.condition_attendance, self.condition_attended_at = outcome, at
        self.condition_good_cause = good_cause and outcome is not Outcome.attended
        if outcome is Outcome.attended or good_cause or self.breached_at is not None:
            return None
        failed = "attend" if outcome is Outcome.failed_to_attend else "remain for the whole of"
        what = (
            f"failed without good cause to {failed} the assessment of "
            f"{self.condition_appointment_at:%d %b %Y %H:%M} under the bail condition"
        )
        self.record_breach(at, what)
        return what

    def record_breach(self, at: datetime, what: str) -> None:
        """B4: the condition to undergo assessment was broken; an arrest without warrant may follow."""
        if not self.with_assessment_condition:
            raise RuleViolation("B4", "there is no bail condition to undergo assessment in this case")
        if self.breached_at is not None:
            raise RuleViolation("B4", "a breach of this condition is already recorded")
        self.breached_at, self.breach_what = at, what

    def awaits_arrest(self, arrested_at: datetime) -> bool:
        """B4: an arrest for breaking the condition follows a recorded breach and is the first since it."""
        return self.breached_at is not None and self.breached_at <= arrested_at and self.arrested_at is None

    def arrested(self, at: datetime) -> datetime:
        """B4: arrested for the breach; before a justice within 24 hours, not counting Sundays, Christmas Day and
        Good Friday (BA76 s.7(4)). The time by which that must happen."""
        if not self.awaits_arrest(at):
            raise RuleViolation("B4", "no breach of the condition awaits an arrest")
        self.arrested_at, self.before_justice_by = at, before_justice_by(at)
        return self.before_justice_by

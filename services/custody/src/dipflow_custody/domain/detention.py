"""A continuous detention and what may happen in it (RULES.md T5-T12), as a pure state machine.

Each command checks the rules, changes the state and returns what happened as :class:`Change` records; an
action the state forbids raises :class:`RuleViolation` with the rule id and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.catalogue import Offence, is_arrest_power, is_specified_drug, is_trigger_offence
from dipflow_custody.domain.eligibility import DetentionFacts, InspectorDecision, TestDecision, decide_test
from dipflow_custody.domain.notifications import Notified


class RuleViolation(Exception):
    def __init__(self, rule_id: str, reason: str) -> None:
        super().__init__(f"{rule_id}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


class ResultValue(StrEnum):
    positive = "positive"
    negative = "negative"


class ReleaseKind(StrEnum):
    no_further_action = "no_further_action"
    police_bail = "police_bail"
    charged_and_bailed = "charged_and_bailed"
    remanded = "remanded"


@dataclass(frozen=True)
class DrugResult:
    drug: str
    value: ResultValue
    medication_declared: str | None = None
    disputed: bool = False
    accepts_heroin_use: bool = False


@dataclass(frozen=True)
class Change:
    """Something that happened, with the facts consumers need; becomes an outgoing event."""

    kind: str
    at: datetime
    facts: dict[str, Any]


@dataclass
class Detention:
    detention_id: str
    person_id: str
    date_of_birth: date
    home_area: str
    suite: str
    arrested_at: datetime
    booked_in_at: datetime
    is_ppo: bool = False
    offences: list[Offence] = field(default_factory=list)
    charged_at: datetime | None = None
    charged_codes: set[str] = field(default_factory=set)
    inspector: InspectorDecision | None = None
    appropriate_adult_present: bool = False
    warned_at: datetime | None = None
    sample_taken_at: datetime | None = None
    sample_type: str | None = None
    results: dict[str, DrugResult] = field(default_factory=dict)
    refused_at: datetime | None = None
    released_at: datetime | None = None
    release_kind: ReleaseKind | None = None
    sample_window_closed: str | None = None
    confirmations: dict[str, ResultValue] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------------------------

    def facts(self, station_at_arrest: Notified, station_at_charge: Notified | None = None) -> DetentionFacts:
        return DetentionFacts(
            date_of_birth=self.date_of_birth,
            arrested_at=self.arrested_at,
            offences=tuple(self.offences),
            station_at_arrest=station_at_arrest,
            charged_at=self.charged_at,
            charged_codes=frozenset(self.charged_codes),
            station_at_charge=station_at_charge,
            inspector=self.inspector,
            is_ppo=self.is_ppo,
            sample_taken=self.sample_taken_at is not None,
        )

    def decide(self, station_at_arrest: Notified, station_at_charge: Notified | None = None) -> TestDecision:
        return decide_test(self.facts(station_at_arrest, station_at_charge))

    @property
    def age_at_arrest(self) -> int:
        return age_on(self.date_of_birth, self.arrested_at.date())

    def _open(self) -> None:
        if self.released_at is not None:
            raise RuleViolation("T8", "the person has been released; this detention is closed")

    # -- commands -----------------------------------------------------------------------------------

    def add_offence(self, offence: Offence, at: datetime, *, further_arrest: bool = False) -> Change:
        self._open()
        self.offences.append(offence)
        return Change(
            "offence_added",
            at,
            {"code": offence.code, "offence_date": offence.offence_date.isoformat(), "attempt": offence.attempt,
             "drug": offence.drug, "drug_class": offence.drug_class, "further_arrest": further_arrest,
             "trigger_offence": is_trigger_offence(offence).is_trigger,
             "arrest_power": is_arrest_power(offence.code)},
        )  # fmt: skip

    def charge(self, codes: set[str], at: datetime) -> Change:
        self._open()
        unknown = codes - {o.code for o in self.offences}
        if unknown:
            raise RuleViolation(
                "T2", f"cannot charge offences not recorded in this detention: {sorted(unknown)}"
            )
        powers = sorted(c for c in codes if is_arrest_power(c))
        if powers:
            raise RuleViolation("T2", f"{powers} are powers of arrest, not offences: they cannot be charged")
        self.charged_at = at
        self.charged_codes = set(codes)
        return Change("charged", at, {"codes": sorted(codes)})

    def record_inspector_decision(self, decision: InspectorDecision, at: datetime, **details: Any) -> Change:
        self._open()
        self.inspector = decision
        return Change("inspector_decision_recorded", at, {"decision": str(decision), **details})

    def appropriate_adult_arrived(self, at: datetime) -> Change:
        self._open()
        self.appropriate_adult_present = True
        return Change("appropriate_adult_present", at, {})

    def give_warning(self, at: datetime) -> Change:
        self._open()
        self._needs_adult_if_juvenile(at, "warning")
        self.warned_at = at
        return Change("warning_given", at, {})

    def take_sample(self, decision: TestDecision, at: datetime, sample_type: str) -> Change:
        self._open()
        if self.sample_taken_at is not None:
            raise RuleViolation("T8", "a sample was already taken in this continuous detention")
        if self.sample_window_closed is not None:
            raise RuleViolation(
                "T10",
                f"the time limit to hold the person for a sample has passed ({self.sample_window_closed})",
            )
        if at < self.booked_in_at:
            raise RuleViolation("T7", "no sample before the person was brought before the custody officer")
        if not decision.may_test:
            raise RuleViolation(decision.rule_ids[0], f"no test may be taken: {decision.reason}")
        if self.warned_at is None:
            raise RuleViolation("T6", "the person must be warned before the sample is requested")
        self._needs_adult_if_juvenile(at, "sample")
        self.sample_taken_at = at
        self.sample_type = sample_type
        return Change("sample_taken", at, {"sample_type": sample_type, "stage": str(decision.stage),
                                          "rule_ids": list(decision.rule_ids)})  # fmt: skip

    def record_result(self, result: DrugResult, at: datetime) -> Change:
        self._open()
        if self.sample_taken_at is None:
            raise RuleViolation("T12", "no result before a sample has been taken")
        sample_day = self.sample_taken_at.date()
        if not is_specified_drug(result.drug, "A", on=sample_day):
            raise RuleViolation("T14", f"{result.drug} was not a specified drug on {sample_day:%d %b %Y}")
        self.results[result.drug] = result
        confirmation = self.needs_confirmation(result)
        return Change(
            "result_recorded",
            at,
            {"drug": result.drug, "result": str(result.value), "disputed": result.disputed,
             "medication_declared": result.medication_declared, "confirmation_required": confirmation,
             "age": self.age_at_arrest, "home_area": self.home_area},
        )  # fmt: skip

    @staticmethod
    def needs_confirmation(result: DrugResult) -> bool:
        """T12: a disputed positive is sent for confirmation, except (since 10 Sep 2008) an opiate positive the
        person accepts as heroin use while declaring medication."""
        if result.value is not ResultValue.positive or not result.disputed:
            return False
        return not (
            result.drug in ("opiates", "heroin") and result.medication_declared and result.accepts_heroin_use
        )

    def record_confirmation(self, drug: str, value: ResultValue, at: datetime) -> Change:
        """T12: the confirmatory analysis of a disputed positive."""
        first = self.results.get(drug)
        if first is None or not self.needs_confirmation(first):
            raise RuleViolation("T12", f"no disputed {drug} positive awaiting confirmation in this detention")
        if drug in self.confirmations:
            raise RuleViolation("T12", f"the confirmatory {drug} result is already recorded")
        self.confirmations[drug] = value
        return Change("confirmatory_result", at, {"drug": drug, "result": str(value)})

    def record_refusal(self, at: datetime, *, good_cause: bool, as_offence: bool | None = None) -> Change:
        """T11; ``as_offence`` is what the custody system claims, checked against T6."""
        self._open()
        if self.sample_taken_at is not None:
            raise RuleViolation("T8", "a sample was already taken in this detention")
        if as_offence and self.warned_at is None:
            raise RuleViolation(
                "T6", "a refusal is an offence only after the warning; no warning is recorded"
            )
        if as_offence and good_cause:
            raise RuleViolation("T11", "a refusal with good cause is not an offence")
        offence = self.warned_at is not None and not good_cause
        reason = (
            "refused without good cause after the warning: an offence (T11)"
            if offence
            else "refused with good cause"
            if good_cause
            else "refused, but no warning was given first: not an offence (T6)"
        )
        self.refused_at = at
        return Change(
            "refusal_recorded", at, {"good_cause": good_cause, "offence": offence, "reason": reason}
        )

    def release(self, kind: ReleaseKind, at: datetime) -> Change:
        self._open()
        self.released_at = at
        self.release_kind = kind
        return Change("released", at, {"release": str(kind), "home_area": self.home_area})

    def close_sample_window(self, deadline: str, due_at: datetime) -> Change | None:
        """T10/T9: the time to hold the person for a sample ran out with no sample; an event, not a silent gap."""
        if self.sample_taken_at is not None or self.refused_at is not None or self.sample_window_closed:
            return None
        self.sample_window_closed = deadline
        return Change("deadline_passed", due_at, {"deadline": deadline, "due_at": due_at.isoformat()})

    def _needs_adult_if_juvenile(self, at: datetime, what: str) -> None:
        if age_on(self.date_of_birth, at.date()) < 18 and not self.appropriate_adult_present:
            raise RuleViolation("T5", f"an appropriate adult must be present for the {what} (under 18)")

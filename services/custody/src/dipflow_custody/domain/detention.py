"""A continuous detention and what may happen in it (docs/rules.md T3, T5-T12), as a pure state machine.

Each command checks the rules, changes the state and returns what happened as a typed event
(:mod:`dipflow_custody.domain.events`); an action the state forbids raises :class:`RuleViolation` with the rule
id and a reason. Every command carries the
time it happened, and the rules about time are judged on those times: a sample is lawful or not by when it was
taken, against the facts of the detention as they stood then, however late it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from dipflow.errors import RuleViolation
from dipflow_custody.domain import events
from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.catalogue import Offence, drug_vocabulary, is_trigger_offence
from dipflow_custody.domain.deadlines import (
    TimeLimit,
    confirmation_due,
    hold_timer_changes,
    pending_hold_deadlines,
    time_limit,
)
from dipflow_custody.domain.drugs import DrugVocabulary
from dipflow_custody.domain.eligibility import DetentionFacts, InspectorDecision, TestDecision, decide_test
from dipflow_custody.domain.notifications import Notified

MEDICATION_EXEMPTION_FROM = date(2008, 9, 10)
"""T12: from this day an opiate positive the person accepts as heroin use while declaring medication needs no
confirmatory analysis."""


class ResultValue(StrEnum):
    positive = "positive"
    negative = "negative"


class ReleaseKind(StrEnum):
    no_further_action = "no_further_action"
    police_bail = "police_bail"
    charged_and_bailed = "charged_and_bailed"
    remanded = "remanded"


class Disposal(StrEnum):
    """How the person was released for one offence while the detention continues for another (T9)."""

    no_further_action = "no_further_action"
    charged = "charged"
    bailed = "bailed"


@dataclass(frozen=True)
class DrugResult:
    drug: str
    value: ResultValue
    medication_declared: str | None = None
    disputed: bool = False
    accepts_heroin_use: bool = False


@dataclass(frozen=True)
class OffenceDisposal:
    disposal: Disposal
    at: datetime


@dataclass(frozen=True)
class Authorisation:
    """T3: an inspector's decision on a test for a non-trigger offence, as it goes on the custody record."""

    decision: InspectorDecision
    by: str
    rank: str
    grounds: str
    at: datetime
    oral: bool
    written_confirmed_at: datetime | None = None
    written_confirmed_by: str | None = None
    person_told_at: datetime | None = None

    @property
    def written_confirmation(self) -> str:
        """``pending`` for an oral authorisation not yet confirmed in writing, else ``confirmed`` or
        ``not_needed`` (given in writing)."""
        if not self.oral:
            return "not_needed"
        return "confirmed" if self.written_confirmed_at is not None else "pending"


@dataclass(frozen=True)
class Stations:
    """What the suite was notified for on the day of arrest and, once charged, on the day of charge."""

    at_arrest: Notified
    at_charge: Notified | None = None


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
    authorisation: Authorisation | None = None
    adult_arrived_at: datetime | None = None
    warned_at: datetime | None = None
    sample_taken_at: datetime | None = None
    sample_type: str | None = None
    results: dict[str, DrugResult] = field(default_factory=dict)
    refused_at: datetime | None = None
    released_at: datetime | None = None
    release_kind: ReleaseKind | None = None
    sample_window_closed: str | None = None
    confirmations: dict[str, ResultValue] = field(default_factory=dict)
    disposals: dict[str, OffenceDisposal] = field(default_factory=dict)
    dispatched_at: datetime | None = None
    confirmation_due_at: datetime | None = None
    confirmation_overdue: bool = False
    ra1_to_serve: set[str] = field(default_factory=set)
    """A1: required assessments referral proposed for this detention's positive result whose RA1 is not yet served
    (custody's copy of referral's proposals)."""
    hold_timers: dict[str, datetime] | None = field(default_factory=dict)
    """T9/T10: the hold-for-sample timers set for this detention and not yet fired or cancelled (kind → due); None
    when not known (recorded before they were kept)."""

    # -- derived ------------------------------------------------------------------------------------

    @property
    def inspector(self) -> InspectorDecision | None:
        return self.authorisation.decision if self.authorisation else None

    @property
    def appropriate_adult_present(self) -> bool:
        return self.adult_arrived_at is not None

    def facts(self, stations: Stations, as_of: datetime | None = None) -> DetentionFacts:
        """The facts the eligibility engine judges, as they stood at ``as_of`` (now when None): a charge, an
        offence, an authorisation or a release for an offence recorded with a later time does not count."""

        def by(at: datetime | None) -> bool:
            return at is not None and (as_of is None or at <= as_of)

        charged = by(self.charged_at)
        return DetentionFacts(
            date_of_birth=self.date_of_birth,
            arrested_at=self.arrested_at,
            offences=tuple(o for o in self.offences if o.added_at is None or by(o.added_at)),
            station_at_arrest=stations.at_arrest,
            charged_at=self.charged_at if charged else None,
            charged_codes=frozenset(self.charged_codes) if charged else frozenset(),
            station_at_charge=stations.at_charge if charged else None,
            inspector=self.inspector if self.authorisation and by(self.authorisation.at) else None,
            is_ppo=self.is_ppo,
            sample_taken=by(self.sample_taken_at),
            released_for=frozenset(code for code, d in self.disposals.items() if by(d.at)),
        )

    def decide(self, stations: Stations, as_of: datetime | None = None) -> TestDecision:
        return decide_test(self.facts(stations, as_of))

    def decision_when_asked(self, stations: Stations) -> TestDecision | None:
        """The decision under which the sample was taken or refused, judged at that time as if none had been
        taken yet (the record given to the person says why they were asked); None when neither happened."""
        asked_at = self.sample_taken_at or self.refused_at
        if asked_at is None:
            return None
        return decide_test(replace(self.facts(stations, as_of=asked_at), sample_taken=False))

    def hold_timers_for(self, decision: TestDecision) -> dict[str, datetime | None]:
        """T9/T10: the hold-for-sample timers to set (at their time) or cancel (None) under ``decision``, leaving
        out those already so; the detention keeps the ones set from then on."""
        pending = pending_hold_deadlines(self.time_limit(decision), still_open=self.awaiting_sample)
        changes = hold_timer_changes(self.hold_timers, pending)
        self.hold_timers = {kind: due for kind, due in pending.items() if due is not None}
        return changes

    def time_limit(self, decision: TestDecision) -> TimeLimit | None:
        return time_limit(
            decision, arrested_at=self.arrested_at, booked_in_at=self.booked_in_at, charged_at=self.charged_at
        )

    @property
    def age_at_arrest(self) -> int:
        return age_on(self.date_of_birth, self.arrested_at.date())

    @property
    def awaiting_sample(self) -> bool:
        """Nothing has ended the wait for a sample: none taken or refused, not released, window not closed."""
        return (
            self.sample_taken_at is None
            and self.refused_at is None
            and self.released_at is None
            and self.sample_window_closed is None
        )

    def _open(self, at: datetime) -> None:
        """Something that happened at ``at`` belongs to this detention only before the release."""
        if self.released_at is not None and at >= self.released_at:
            raise RuleViolation("T8", "the person had been released by then; this detention is closed")

    # -- commands -----------------------------------------------------------------------------------

    def add_offence(
        self, offence: Offence, at: datetime, *, further_arrest: bool = False
    ) -> events.OffenceAdded:
        self._open(at)
        recorded = replace(offence, added_at=at)
        self.offences.append(recorded)
        check = is_trigger_offence(recorded)
        return events.OffenceAdded(
            at=at,
            code=offence.code,
            offence_date=offence.offence_date,
            attempt=offence.attempt,
            drug=offence.drug,
            drug_class=offence.drug_class,
            further_arrest=further_arrest,
            trigger_offence=check.is_trigger,
            trigger_reason=check.reason,
            arrest_power=recorded.is_arrest_power,
            statute=recorded.provision.statute,
            section=recorded.provision.section,
            title=recorded.label,
            in_catalogue=recorded.in_catalogue,
        )

    def dispose_of_offence(self, code: str, disposal: Disposal, at: datetime) -> events.OffenceDisposed:
        """T9: the person is released (no further action, charged or bailed) for one offence while the
        detention continues for another. Releasing for every offence is a release of the person."""
        self._open(at)
        if code not in {o.code for o in self.offences}:
            raise RuleViolation("T9", f"{code} is not an offence recorded in this detention")
        if code in self.disposals:
            raise RuleViolation("T9", f"the person was already released for {code}")
        remaining = sorted({o.code for o in self.offences} - set(self.disposals) - {code})
        if not remaining:
            raise RuleViolation(
                "T9",
                "no other offence keeps the person in detention: record the release of the person instead",
            )
        self.disposals[code] = OffenceDisposal(disposal, at)
        return events.OffenceDisposed(at=at, code=code, disposal=str(disposal), still_detained_for=remaining)

    def charge(self, codes: set[str], at: datetime) -> events.Charged:
        self._open(at)
        unknown = codes - {o.code for o in self.offences}
        if unknown:
            raise RuleViolation(
                "T2", f"cannot charge offences not recorded in this detention: {sorted(unknown)}"
            )
        powers = sorted(o.code for o in self.offences if o.code in codes and o.is_arrest_power)
        if powers:
            raise RuleViolation("T2", f"{powers} are powers of arrest, not offences: they cannot be charged")
        self.charged_at = at
        self.charged_codes = set(codes)
        return events.Charged(at=at, codes=sorted(codes))

    def record_inspector_decision(
        self,
        decision: InspectorDecision,
        at: datetime,
        *,
        by: str,
        rank: str,
        grounds: str,
        oral: bool,
        written_confirmation_at: datetime | None = None,
    ) -> events.InspectorDecisionRecorded:
        """T3: the decision goes on the custody record with who made it, rank, grounds, time and whether it was
        given orally; an oral one is pending written confirmation unless its confirmation time is given."""
        self._open(at)
        confirmed = written_confirmation_at if oral else None
        self.authorisation = Authorisation(
            decision, by, rank, grounds, at, oral, confirmed, by if confirmed else None
        )
        return events.InspectorDecisionRecorded(
            at=at,
            decision=str(decision),
            by=by,
            rank=rank,
            grounds=grounds,
            oral=oral,
            written_confirmation_at=confirmed,
            written_confirmation=self.authorisation.written_confirmation,
        )

    def confirm_in_writing(self, at: datetime, by: str) -> events.WrittenConfirmationRecorded:
        """T3: the inspector who gave an oral authorisation confirms it in writing."""
        a = self.authorisation
        if a is None or not a.oral:
            raise RuleViolation("T3", "there is no oral inspector decision to confirm in writing")
        if a.written_confirmed_at is not None:
            raise RuleViolation(
                "T3", f"the decision was already confirmed in writing at {a.written_confirmed_at}"
            )
        if by != a.by:
            raise RuleViolation(
                "T3", "an oral authorisation is confirmed in writing by the officer who gave it"
            )
        if at < a.at:
            raise RuleViolation("T3", "the written confirmation cannot come before the decision")
        self.authorisation = replace(a, written_confirmed_at=at, written_confirmed_by=by)
        return events.WrittenConfirmationRecorded(at=at, by=by, decision_at=a.at)

    def tell_person_of_authorisation(self, at: datetime) -> events.PersonToldOfAuthorisation:
        """T3: the person is told of the authorisation and its grounds."""
        a = self.authorisation
        if a is None or a.decision is not InspectorDecision.authorised:
            raise RuleViolation("T3", "no inspector has authorised a test in this detention")
        if a.person_told_at is not None:
            raise RuleViolation("T3", "the person was already told of the authorisation")
        if at < a.at:
            raise RuleViolation("T3", "the person cannot be told before the authorisation was given")
        self._open(at)
        self.authorisation = replace(a, person_told_at=at)
        return events.PersonToldOfAuthorisation(at=at)

    def appropriate_adult_arrived(self, at: datetime) -> events.AppropriateAdultPresent:
        self._open(at)
        self.adult_arrived_at = at
        return events.AppropriateAdultPresent(at=at)

    def give_warning(self, at: datetime) -> events.WarningGiven:
        self._open(at)
        self._needs_adult_if_juvenile(at, "warning")
        self.warned_at = at
        return events.WarningGiven(at=at)

    def take_sample(self, stations: Stations, at: datetime, sample_type: str) -> events.SampleTaken:
        """T5-T10 judged at ``at``, the time the sample was taken: a sample reported late is lawful if it was
        taken in time; one taken after the limit is refused whether or not a timer has fired."""
        self._open(at)
        if self.sample_taken_at is not None:
            raise RuleViolation("T8", "a sample was already taken in this continuous detention")
        if at < self.booked_in_at:
            raise RuleViolation("T7", "no sample before the person was brought before the custody officer")
        decision = self.decide(stations, as_of=at)
        if not decision.may_test:
            raise RuleViolation(decision.rule_ids[0], f"no test may be taken: {decision.reason}")
        limit = self.time_limit(decision)
        assert limit is not None
        if at > limit.until:
            raise RuleViolation(
                "T10",
                f"the sample was taken at {at:%d %b %Y %H:%M %Z}, after the time limit to hold the person for a "
                f"sample ({limit.reason}: {limit.until:%d %b %Y %H:%M %Z})",
            )
        if self.warned_at is None or self.warned_at > at:
            raise RuleViolation("T6", "the person must be warned before the sample is requested")
        self._needs_adult_if_juvenile(at, "sample")
        self.sample_taken_at = at
        self.sample_type = sample_type
        return events.SampleTaken(
            at=at,
            sample_type=sample_type,
            stage=str(decision.stage),
            rule_ids=list(dict.fromkeys((*decision.rule_ids, *limit.rule_ids))),
            time_limit=limit.until,
        )

    def record_result(
        self, result: DrugResult, at: datetime, drugs: DrugVocabulary | None = None
    ) -> events.ResultRecorded:
        """T12/T14: a result for one drug of the sample. The drug is named from the vocabulary (an unknown name
        raises UnknownDrug); one that was not a specified Class A drug on the day of the sample is refused."""
        self._open(at)
        if self.sample_taken_at is None:
            raise RuleViolation("T12", "no result before a sample has been taken")
        drug = (drugs or drug_vocabulary()).get(result.drug)
        sample_day = self.sample_taken_at.date()
        if not drug.is_specified_class_a(sample_day):
            klass = drug.class_on(sample_day)
            what = f"Class {klass}" if klass else "not a controlled drug"
            raise RuleViolation(
                "T14",
                f"{drug.name} was {what} and not a specified Class A drug on {sample_day:%d %b %Y}: a result "
                "for it is not a result under PACE s.63B",
            )
        named = replace(result, drug=drug.name)
        self.results[drug.name] = named
        confirmation = self.needs_confirmation(named, sample_day)
        return events.ResultRecorded(
            at=at,
            drug=drug.name,
            result=str(result.value),
            disputed=result.disputed,
            medication_declared=result.medication_declared,
            confirmation_required=confirmation,
            age=self.age_at_arrest,
            home_area=self.home_area,
        )

    @staticmethod
    def needs_confirmation(result: DrugResult, sample_day: date) -> bool:
        """T12: a disputed positive is sent for confirmation, except, for samples taken on or after 10 Sep
        2008, an opiate positive the person accepts as heroin use while declaring medication."""
        if result.value is not ResultValue.positive or not result.disputed:
            return False
        exempt = (
            sample_day >= MEDICATION_EXEMPTION_FROM
            and result.drug == "opiates"
            and bool(result.medication_declared)
            and result.accepts_heroin_use
        )
        return not exempt

    @property
    def awaiting_confirmation(self) -> list[str]:
        """The disputed positives whose confirmatory result is not yet recorded (T12)."""
        day = self.sample_taken_at.date() if self.sample_taken_at else None
        if day is None:
            return []
        return sorted(
            name
            for name, r in self.results.items()
            if self.needs_confirmation(r, day) and name not in self.confirmations
        )

    def dispatch_for_confirmation(self, at: datetime, working_days: int) -> events.SampleDispatched:
        """T12: the disputed sample was sent for confirmatory analysis; the result is due within
        ``working_days`` working days."""
        waiting = self.awaiting_confirmation
        if not waiting:
            raise RuleViolation("T12", "no disputed positive in this detention awaits confirmatory analysis")
        if self.dispatched_at is not None:
            raise RuleViolation(
                "T12", f"the sample was already sent for confirmation at {self.dispatched_at}"
            )
        assert self.sample_taken_at is not None
        if at < self.sample_taken_at:
            raise RuleViolation("T12", "the sample cannot be sent before it was taken")
        self.dispatched_at = at
        self.confirmation_due_at = confirmation_due(at, working_days)
        return events.SampleDispatched(at=at, drugs=waiting, confirmation_due_at=self.confirmation_due_at)

    def record_confirmation(
        self, drug: str, value: ResultValue, at: datetime, drugs: DrugVocabulary | None = None
    ) -> events.ConfirmatoryResultRecorded:
        """T12: the confirmatory analysis of a disputed positive."""
        name = (drugs or drug_vocabulary()).get(drug).name
        if name not in self.awaiting_confirmation and name not in self.confirmations:
            raise RuleViolation("T12", f"no disputed {name} positive awaiting confirmation in this detention")
        if name in self.confirmations:
            raise RuleViolation("T12", f"the confirmatory {name} result is already recorded")
        self.confirmations[name] = value
        return events.ConfirmatoryResultRecorded(at=at, drug=name, result=str(value))

    def confirmation_passed_due(self, due_at: datetime) -> events.ConfirmationOverdue | None:
        """T12: the confirmatory result did not arrive within the working days allowed: overdue, once."""
        waiting = self.awaiting_confirmation
        if not waiting or self.confirmation_overdue:
            return None
        self.confirmation_overdue = True
        return events.ConfirmationOverdue(at=due_at, drugs=waiting, due_at=due_at)

    def record_refusal(
        self, stations: Stations, at: datetime, *, good_cause: bool, as_offence: bool | None = None
    ) -> events.RefusalRecorded:
        """T11, judged at ``at``: failing to give a sample is an offence only after the warning (T6), without
        good cause, when a test may lawfully be required then and within the time limit (T10).
        ``as_offence`` is what the custody system claims, checked against those rules."""
        self._open(at)
        if self.sample_taken_at is not None:
            raise RuleViolation("T8", "a sample was already taken in this detention")
        decision = self.decide(stations, as_of=at)
        limit = self.time_limit(decision)
        warned = self.warned_at is not None and self.warned_at <= at
        if as_offence and not warned:
            raise RuleViolation(
                "T6", "a refusal is an offence only after the warning; no warning is recorded"
            )
        if as_offence and good_cause:
            raise RuleViolation("T11", "a refusal with good cause is not an offence")
        if as_offence and not decision.may_test:
            raise RuleViolation(decision.rule_ids[0], f"no test could be required: {decision.reason}")
        if as_offence and limit is not None and at > limit.until:
            raise RuleViolation(
                "T10", f"the time limit to hold the person for a sample had passed ({limit.reason})"
            )
        if good_cause:
            offence, reason = False, "refused with good cause"
        elif not warned:
            offence, reason = False, "refused, but no warning was given first: not an offence (T6)"
        elif limit is None:
            offence, reason = (
                False,
                f"refused when no test could be required: not an offence ({decision.reason})",
            )
        elif at > limit.until:
            offence, reason = False, f"refused after the time limit ({limit.reason}): not an offence (T10)"
        else:
            offence, reason = True, "refused without good cause after the warning: an offence (T11)"
        self.refused_at = at
        return events.RefusalRecorded(at=at, good_cause=good_cause, offence=offence, reason=reason)

    def release(self, kind: ReleaseKind, at: datetime, *, lapse_confirmed: bool = False) -> events.Released:
        """A1: a required assessment whose RA1 is not served lapses when the person is released, so the release
        needs the officer's confirmation that it will; the requirements it lapses are named in the event."""
        self._open(at)
        if self.ra1_to_serve and not lapse_confirmed:
            raise RuleViolation(
                "A1",
                "RA1 to serve: a required assessment was proposed for the positive result and has not been "
                "imposed, and releasing the person now lets it lapse. Serve RA1 first, or confirm the release "
                "with lapse_confirmed set to true.",
            )
        lapsed = tuple(sorted(self.ra1_to_serve))
        self.ra1_to_serve.clear()
        self.released_at = at
        self.release_kind = kind
        return events.Released(at=at, release=str(kind), home_area=self.home_area, requirements_lapsed=lapsed)

    def requirement_proposed(self, assessment_id: str) -> bool:
        """A1: referral proposed a required assessment; until RA1 is served it is to serve before release.
        False when nothing changed (already known, or the person already released: it lapsed)."""
        if self.released_at is not None or assessment_id in self.ra1_to_serve:
            return False
        self.ra1_to_serve.add(assessment_id)
        return True

    def requirement_settled(self, assessment_id: str) -> bool:
        """RA1 served, or the requirement lapsed or ended: nothing left to serve. False when nothing changed."""
        if assessment_id not in self.ra1_to_serve:
            return False
        self.ra1_to_serve.discard(assessment_id)
        return True

    def close_sample_window(self, deadline: str, due_at: datetime) -> events.DeadlinePassed | None:
        """T10/T9: the time to hold the person for a sample ran out with no sample; an event, not a silent gap.
        It tells read models and people; it does not decide whether a sample reported later was in time."""
        if self.hold_timers is not None:
            self.hold_timers.pop(deadline, None)
        if not self.awaiting_sample:
            return None
        self.sample_window_closed = deadline
        return events.DeadlinePassed(at=due_at, deadline=deadline, due_at=due_at)

    def _needs_adult_if_juvenile(self, at: datetime, what: str) -> None:
        present = self.adult_arrived_at is not None and self.adult_arrived_at <= at
        if age_on(self.date_of_birth, at.date()) < 18 and not present:
            raise RuleViolation("T5", f"an appropriate adult must be present for the {what} (under 18)")

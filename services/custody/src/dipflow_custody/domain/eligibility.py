"""Test eligibility (docs/rules.md T1-T9, T14): after each change to a detention, is a drug test required,
allowed only with an inspector's authorisation, or not allowed — on arrest or on charge?

Pure: it takes the facts of the detention and returns a decision naming its rule ids and a reason a
custody officer would understand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.catalogue import Offence, is_trigger_offence
from dipflow_custody.domain.notifications import NotificationKind, Notified

ADULT = 18
MIN_AGE_ON_CHARGE = 14


class Stage(StrEnum):
    arrest = "arrest"
    charge = "charge"


class Outcome(StrEnum):
    required = "required"
    needs_authorisation = "needs_authorisation"
    not_allowed = "not_allowed"


class InspectorDecision(StrEnum):
    authorised = "authorised"
    declined = "declined"


@dataclass(frozen=True)
class DetentionFacts:
    date_of_birth: date
    arrested_at: datetime
    offences: tuple[Offence, ...]
    station_at_arrest: Notified
    charged_at: datetime | None = None
    charged_codes: frozenset[str] = frozenset()
    station_at_charge: Notified | None = None
    inspector: InspectorDecision | None = None
    is_ppo: bool = False
    sample_taken: bool = False
    released_for: frozenset[str] = frozenset()
    """T9: offences the person was released for (no further action, charged or bailed) while the detention
    continues for another."""


@dataclass(frozen=True)
class TestDecision:
    stage: Stage
    outcome: Outcome
    rule_ids: tuple[str, ...]
    reason: str
    appropriate_adult_required: bool = False
    inspector_decision_requested: bool = False
    trigger_offences: tuple[str, ...] = field(default=())

    @property
    def may_test(self) -> bool:
        return self.outcome is Outcome.required


def decide_test(facts: DetentionFacts) -> TestDecision:
    """The decision for the detention's current stage: on charge once charged, on arrest before."""
    if facts.charged_at is not None:
        return _on_charge(facts)
    return _on_arrest(facts)


def _on_arrest(facts: DetentionFacts) -> TestDecision:
    stage = Stage.arrest
    if facts.sample_taken:
        return TestDecision(
            stage, Outcome.not_allowed, ("T8",), "A sample has already been taken in this detention."
        )
    age = age_on(facts.date_of_birth, facts.arrested_at.date())
    if age < ADULT:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T1",),
            f"Aged {age} on the day of arrest: testing on arrest is for 18 and over.",
        )
    if NotificationKind.testing_on_arrest not in facts.station_at_arrest:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T1",),
            f"Suite {facts.station_at_arrest.place} was not notified for testing on arrest on "
            f"{facts.arrested_at:%d %b %Y}.",
        )
    if all(o.is_arrest_power for o in facts.offences):
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T1",),
            "Arrested only under a power that is not an offence (e.g. breaking a bail condition, BA76 s.7(3)): "
            "a test needs arrest for an offence.",
        )
    held_for = tuple(o for o in facts.offences if o.code not in facts.released_for)
    triggers = _triggers(held_for)
    if triggers:
        return TestDecision(
            stage,
            Outcome.required,
            ("T1", "CJCSA-Sch6"),
            f"Test on arrest required: {triggers[0][1]}. Warn the person before the request (T6).",
            trigger_offences=tuple(code for code, _ in triggers),
        )
    return _carried_over(stage, facts) or _authorisation(stage, facts, adult=True)


def _on_charge(facts: DetentionFacts) -> TestDecision:
    stage = Stage.charge
    assert facts.charged_at is not None
    if facts.sample_taken:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T8",),
            "The sample taken on arrest in this detention counts as the charge sample; no second sample.",
        )
    station = facts.station_at_charge or facts.station_at_arrest
    age = age_on(facts.date_of_birth, facts.charged_at.date())
    if age < MIN_AGE_ON_CHARGE:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T2",),
            f"Aged {age} when charged: testing on charge is for 14 and over.",
        )
    if NotificationKind.testing_on_charge not in station:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T2",),
            f"Suite {station.place} was not notified for testing on charge on {facts.charged_at:%d %b %Y}.",
        )
    if age < ADULT and NotificationKind.under_18_testing not in station:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            ("T2",),
            f"Aged {age}: suite {station.place} was not notified for testing under-18s on {facts.charged_at:%d %b %Y}.",
        )
    juvenile = age < ADULT
    charged = tuple(o for o in facts.offences if o.code in facts.charged_codes)
    triggers = _triggers(charged)
    if triggers:
        rules = ("T2", "CJCSA-Sch6", "T5") if juvenile else ("T2", "CJCSA-Sch6")
        reason = f"Test on charge required: {triggers[0][1]}."
        if juvenile:
            reason += " An appropriate adult must be present for the warning, request and sample (T5)."
        return TestDecision(
            stage,
            Outcome.required,
            rules,
            reason,
            appropriate_adult_required=juvenile,
            trigger_offences=tuple(code for code, _ in triggers),
        )
    if not juvenile:
        carried = _carried_over(stage, facts)
        if carried is not None:
            return carried
    return _authorisation(stage, facts, adult=not juvenile)


def _carried_over(stage: Stage, facts: DetentionFacts) -> TestDecision | None:
    """T9: released for a trigger offence while still detained for another offence, the test on arrest for the
    trigger offence may still be taken (within 24 hours of the start of detention, T10), also after a charge
    with the other offence alone. It carries over only what testing on arrest allowed: 18 or over at a suite
    notified for testing on arrest on the day of arrest."""
    if not facts.released_for or all(o.code in facts.released_for for o in facts.offences):
        return None
    if age_on(facts.date_of_birth, facts.arrested_at.date()) < ADULT:
        return None
    if NotificationKind.testing_on_arrest not in facts.station_at_arrest:
        return None
    triggers = _triggers(tuple(o for o in facts.offences if o.code in facts.released_for))
    if not triggers:
        return None
    others = sorted(o.code for o in facts.offences if o.code not in facts.released_for)
    return TestDecision(
        stage,
        Outcome.required,
        ("T1", "T9", "CJCSA-Sch6"),
        f"Released for the trigger offence ({triggers[0][1]}) but still detained for {', '.join(others)}: the "
        "test on arrest carries over, within 24 hours of the start of detention (T9). Warn the person before "
        "the request (T6).",
        trigger_offences=tuple(code for code, _ in triggers),
    )


def _authorisation(stage: Stage, facts: DetentionFacts, *, adult: bool) -> TestDecision:
    """T3/T4: no trigger offence, so a test is lawful only on an inspector's authorisation."""
    aa = not adult
    aa_rules = ("T5",) if aa else ()
    base = ("T1" if stage is Stage.arrest else "T2", "T3")
    if facts.inspector is InspectorDecision.authorised:
        return TestDecision(
            stage,
            Outcome.required,
            (*base, *aa_rules),
            "No trigger offence, but an inspector authorised a test (Class A misuse suspected to have caused "
            "or contributed to the offence).",
            appropriate_adult_required=aa,
        )
    if facts.inspector is InspectorDecision.declined:
        return TestDecision(
            stage,
            Outcome.not_allowed,
            base,
            "No trigger offence and the inspector declined to authorise a test.",
        )
    if facts.is_ppo:
        return TestDecision(
            stage,
            Outcome.needs_authorisation,
            (*base, "T4"),
            "PPO arrested for a non-trigger offence: put the case to an inspector for a test decision. "
            "Being a PPO alone does not make a test lawful.",
            appropriate_adult_required=aa,
            inspector_decision_requested=True,
        )
    return TestDecision(
        stage,
        Outcome.needs_authorisation,
        base,
        "No trigger offence: a test is lawful only if an inspector authorises it.",
        appropriate_adult_required=aa,
    )


def _triggers(offences: tuple[Offence, ...]) -> list[tuple[str, str]]:
    found = []
    for offence in offences:
        check = is_trigger_offence(offence)
        if check.is_trigger:
            found.append((offence.code, check.reason))
    return found

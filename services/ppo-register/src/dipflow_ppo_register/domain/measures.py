"""Strategy measures K1 and K2 (docs/rules.md K), computed from custody events and the register's own history.

Whether someone was a PPO is decided by the register as it stood on the day of the arrest or charge, in the
borough of that period, so a measure for a past month does not change when someone joins or leaves the
register later. Days and months are Europe/London calendar days.

- **K1**: the number of PPOs considered for a test through an inspector's authorisation decision (T3/T4) on an
  arrest for a non-trigger offence, with the decisions (authorised, declined), by period (month, financial-year
  quarter or financial year) and borough, against a baseline period taken pro rata to the period's length, with
  a target increase (the strategy's: 50%). The share of such arrests put to an inspector is the second line.
  An arrest where a trigger offence is recorded, or where the only ground is a power of arrest that is not
  an offence (BA76 s.7(3)), is not a non-trigger-offence arrest.
- **K2**: PPOs charged with failing without good cause to attend or remain for a required assessment
  (DA05 s.12(3), s.14(3)); PPOs arrested for breaking a restriction-on-bail condition (BA76 s.7(3)).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from dipflow.periods import Granularity, bounds, months_in, period_of
from dipflow_ppo_register.domain.panel import AssessmentFailure
from dipflow_ppo_register.domain.register import Period

ALL_BOROUGHS = "*"
K1_TARGET_INCREASE = 0.5
FAILING_TO_ATTEND_ASSESSMENT = frozenset({"DA2005-s12", "DA2005-s14"})
BREAKING_BAIL_CONDITION = "BA1976-s7"


@dataclass(frozen=True)
class Arrest:
    detention_id: str
    person_id: str
    arrested_on: date
    codes: frozenset[str] = frozenset()
    trigger_offence: bool = False
    only_arrest_powers: bool = False
    inspector_decision: str | None = None
    released_on: date | None = None
    release: str | None = None


@dataclass(frozen=True)
class Charge:
    detention_id: str
    person_id: str
    charged_on: date
    codes: frozenset[str]


@dataclass(frozen=True)
class Target:
    """What a borough's K1 is measured against: a baseline period and the increase wanted on it."""

    baseline_period: str
    increase: float = K1_TARGET_INCREASE


@dataclass(frozen=True)
class K1Row:
    period: str
    borough: str
    ppo_non_trigger_arrests: int
    inspector_decisions: int
    authorised: int
    declined: int
    ppos_considered: int
    share: float | None
    baseline_period: str | None = None
    baseline_ppos_considered: float | None = None
    baseline_share: float | None = None
    change_relative: float | None = None
    share_change_points: float | None = None
    target_increase: float | None = None
    target_ppos_considered: float | None = None
    target_met: bool | None = None


@dataclass(frozen=True)
class K2Row:
    period: str
    borough: str
    prosecuted_for_failing_to_attend: int
    people_prosecuted: int
    arrested_for_breaking_bail_condition: int
    people_arrested: int
    failures_notified: int = 0
    failures_charged: int = 0
    failures_no_further_action: int = 0
    failures_pending: int = 0


@dataclass
class _Tally:
    arrests: int = 0
    decided: int = 0
    authorised: int = 0
    considered: set[str] = field(default_factory=set)

    def count(self, arrest: Arrest) -> None:
        self.arrests += 1
        if arrest.inspector_decision is not None:
            self.decided += 1
            self.authorised += arrest.inspector_decision == "authorised"
            self.considered.add(arrest.person_id)


def ppo_period_on(periods: Sequence[Period], day: date) -> Period | None:
    return next((p for p in periods if p.covers(day)), None)


def _share(t: _Tally | None) -> float | None:
    return t.decided / t.arrests if t is not None and t.arrests else None


ForceOf = Callable[[str], str | None]


def no_forces(borough: str) -> str | None:
    return None


def areas_of(borough: str, force_of: ForceOf) -> tuple[str, ...]:
    """Where a fact in ``borough`` is counted: the borough, its force (when the areas know it) and ``*``."""
    force = force_of(borough)
    return (borough, force, ALL_BOROUGHS) if force and force != borough else (borough, ALL_BOROUGHS)


def _counted(
    arrests: Iterable[Arrest], periods_by_person: dict[str, list[Period]], force_of: ForceOf
) -> Iterable[tuple[Arrest, str]]:
    """Each PPO arrest for a non-trigger offence with the borough of the register on its day, its force and
    ``*``."""
    for a in arrests:
        period = ppo_period_on(periods_by_person.get(a.person_id, []), a.arrested_on)
        if period is None or a.trigger_offence or a.only_arrest_powers:
            continue
        for area in areas_of(period.borough, force_of):
            yield a, area


def k1(
    arrests: Iterable[Arrest],
    periods_by_person: dict[str, list[Period]],
    granularity: Granularity,
    target_of: Callable[[str], Target | None],
    force_of: ForceOf = no_forces,
) -> list[K1Row]:
    """K1 per period of ``granularity`` and borough; each borough's row is compared with its target's baseline
    period (``target_of(borough)``), whose count of PPOs considered is taken pro rata to the period's months."""
    arrests = list(arrests)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    baselines: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    wanted: dict[str, Target | None] = {}
    for a, borough in _counted(arrests, periods_by_person, force_of):
        tallies[(period_of(a.arrested_on, granularity), borough)].count(a)
        if borough not in wanted:
            wanted[borough] = target_of(borough)
        target = wanted[borough]
        if target is not None:
            first, last = bounds(target.baseline_period)
            if first <= a.arrested_on <= last:
                baselines[(target.baseline_period, borough)].count(a)
    rows = []
    for (period, borough), t in sorted(tallies.items()):
        target = wanted.get(borough)
        share = _share(t)
        row = K1Row(
            period,
            borough,
            t.arrests,
            t.decided,
            t.authorised,
            t.decided - t.authorised,
            len(t.considered),
            share,
        )
        if target is not None:
            base = baselines.get((target.baseline_period, borough))
            base_share = _share(base)
            considered = (
                len(base.considered) * months_in(period) / months_in(target.baseline_period)
                if base is not None and base.arrests
                else None
            )
            # a baseline with nobody considered gives no target: a rise on nothing cannot be measured
            wanted_count = considered * (1 + target.increase) if considered else None
            row = replace(
                row,
                baseline_period=target.baseline_period,
                baseline_ppos_considered=considered,
                baseline_share=base_share,
                change_relative=len(t.considered) / considered - 1 if considered else None,
                share_change_points=share - base_share
                if share is not None and base_share is not None
                else None,
                target_increase=target.increase,
                target_ppos_considered=wanted_count,
                target_met=None if wanted_count is None else len(t.considered) >= wanted_count,
            )
        rows.append(row)
    return rows


class FollowedBy(StrEnum):
    """What happened after a PPO's failure to attend or remain was notified to the police (5.1.2)."""

    charged = "charged"
    no_further_action = "no_further_action"
    pending = "pending"


def followed_by(
    failure: AssessmentFailure, arrests: Iterable[Arrest], charges: Iterable[Charge]
) -> FollowedBy:
    """Charged: a charge for failing to attend or remain (DA05 s.12(3), s.14(3)) on or after the failure's day;
    no further action: an arrest for it from that day released with no further action and never charged;
    else pending (not yet arrested, or arrested and not yet decided)."""
    mine = [c for c in charges if c.person_id == failure.person_id and c.charged_on >= failure.occurred_on]
    if any(c.codes & FAILING_TO_ATTEND_ASSESSMENT for c in mine):
        return FollowedBy.charged
    charged_detentions = {c.detention_id for c in mine}
    for a in arrests:
        if (
            a.person_id == failure.person_id
            and a.arrested_on is not None
            and a.arrested_on >= failure.occurred_on
            and a.codes & FAILING_TO_ATTEND_ASSESSMENT
            and a.release == "no_further_action"
            and a.detention_id not in charged_detentions
        ):
            return FollowedBy.no_further_action
    return FollowedBy.pending


@dataclass
class _K2Tally:
    prosecutions: int = 0
    prosecuted: set[str] = field(default_factory=set)
    arrests: int = 0
    arrested: set[str] = field(default_factory=set)
    followed: Counter[FollowedBy] = field(default_factory=Counter)


def k2(
    arrests: Iterable[Arrest],
    charges: Iterable[Charge],
    periods_by_person: dict[str, list[Period]],
    granularity: Granularity = Granularity.month,
    failures: Iterable[AssessmentFailure] = (),
    afterwards: tuple[Sequence[Arrest], Sequence[Charge]] = ((), ()),
    force_of: ForceOf = no_forces,
) -> list[K2Row]:
    """K2 by period and borough; with ``failures`` (PPOs' failures notified in the period, each in the period and
    borough of its day) and ``afterwards`` (the arrests and charges since), what followed each failure."""
    tallies: dict[tuple[str, str], _K2Tally] = defaultdict(_K2Tally)
    for c in charges:
        period = ppo_period_on(periods_by_person.get(c.person_id, []), c.charged_on)
        if period is None or not c.codes & FAILING_TO_ATTEND_ASSESSMENT:
            continue
        for borough in areas_of(period.borough, force_of):
            t = tallies[(period_of(c.charged_on, granularity), borough)]
            t.prosecutions += 1
            t.prosecuted.add(c.person_id)
    for a in arrests:
        period = ppo_period_on(periods_by_person.get(a.person_id, []), a.arrested_on)
        if period is None or BREAKING_BAIL_CONDITION not in a.codes:
            continue
        for borough in areas_of(period.borough, force_of):
            t = tallies[(period_of(a.arrested_on, granularity), borough)]
            t.arrests += 1
            t.arrested.add(a.person_id)
    for f in failures:
        period = ppo_period_on(periods_by_person.get(f.person_id, []), f.occurred_on)
        if period is None:
            continue
        outcome = followed_by(f, afterwards[0], afterwards[1])
        for borough in areas_of(period.borough, force_of):
            tallies[(period_of(f.occurred_on, granularity), borough)].followed[outcome] += 1
    return [
        K2Row(
            month,
            borough,
            t.prosecutions,
            len(t.prosecuted),
            t.arrests,
            len(t.arrested),
            sum(t.followed.values()),
            t.followed[FollowedBy.charged],
            t.followed[FollowedBy.no_further_action],
            t.followed[FollowedBy.pending],
        )
        for (month, borough), t in sorted(tallies.items())
    ]

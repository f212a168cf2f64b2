"""Strategy measures K1 and K2 (docs/rules.md K), computed from custody events and the register's own history.

Whether someone was a PPO is decided by the register as it stood on the day of the arrest or charge, in the
borough of that period, so a measure for a past month does not change when someone joins or leaves the
register later. Days and months are Europe/London calendar days.

- **K1**: of PPO arrests for non-trigger offences, the share that went to an inspector for a test decision
  (T3/T4), by month and borough, with the change against a baseline month (target: a 50% increase).
  An arrest where a trigger offence is recorded, or where the only ground is a power of arrest that is not
  an offence (BA76 s.7(3)), is not a non-trigger-offence arrest.
- **K2**: PPOs charged with failing without good cause to attend or remain for a required assessment
  (DA05 s.12(3), s.14(3)); PPOs arrested for breaking a restriction-on-bail condition (BA76 s.7(3)).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from dipflow_ppo_register.domain.register import Period
from dipflow_ppo_register.domain.window import month_of

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


@dataclass(frozen=True)
class Charge:
    detention_id: str
    person_id: str
    charged_on: date
    codes: frozenset[str]


@dataclass(frozen=True)
class K1Row:
    month: str
    borough: str
    ppo_non_trigger_arrests: int
    inspector_decisions: int
    share: float | None
    baseline_share: float | None = None
    change_points: float | None = None
    change_relative: float | None = None
    target_met: bool | None = None


@dataclass(frozen=True)
class K2Row:
    month: str
    borough: str
    prosecuted_for_failing_to_attend: int
    people_prosecuted: int
    arrested_for_breaking_bail_condition: int
    people_arrested: int


@dataclass
class _Tally:
    arrests: int = 0
    decided: int = 0


def ppo_period_on(periods: Sequence[Period], day: date) -> Period | None:
    return next((p for p in periods if p.covers(day)), None)


def _share(t: _Tally | None) -> float | None:
    return t.decided / t.arrests if t is not None and t.arrests else None


def k1(
    arrests: Iterable[Arrest], periods_by_person: dict[str, list[Period]], *, baseline_month: str | None
) -> list[K1Row]:
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for a in arrests:
        period = ppo_period_on(periods_by_person.get(a.person_id, []), a.arrested_on)
        if period is None or a.trigger_offence or a.only_arrest_powers:
            continue
        for borough in (period.borough, ALL_BOROUGHS):
            t = tallies[(month_of(a.arrested_on), borough)]
            t.arrests += 1
            t.decided += a.inspector_decision is not None
    rows = []
    for (month, borough), t in sorted(tallies.items()):
        share = _share(t)
        base = _share(tallies.get((baseline_month, borough))) if baseline_month else None
        change = relative = None
        if share is not None and base is not None:
            change = share - base
            relative = share / base - 1 if base else None
        rows.append(
            K1Row(
                month,
                borough,
                t.arrests,
                t.decided,
                share,
                base,
                change,
                relative,
                None if relative is None else relative >= K1_TARGET_INCREASE,
            )
        )
    return rows


@dataclass
class _K2Tally:
    prosecutions: int = 0
    prosecuted: set[str] = field(default_factory=set)
    arrests: int = 0
    arrested: set[str] = field(default_factory=set)


def k2(
    arrests: Iterable[Arrest], charges: Iterable[Charge], periods_by_person: dict[str, list[Period]]
) -> list[K2Row]:
    tallies: dict[tuple[str, str], _K2Tally] = defaultdict(_K2Tally)
    for c in charges:
        period = ppo_period_on(periods_by_person.get(c.person_id, []), c.charged_on)
        if period is None or not c.codes & FAILING_TO_ATTEND_ASSESSMENT:
            continue
        for borough in (period.borough, ALL_BOROUGHS):
            t = tallies[(month_of(c.charged_on), borough)]
            t.prosecutions += 1
            t.prosecuted.add(c.person_id)
    for a in arrests:
        period = ppo_period_on(periods_by_person.get(a.person_id, []), a.arrested_on)
        if period is None or BREAKING_BAIL_CONDITION not in a.codes:
            continue
        for borough in (period.borough, ALL_BOROUGHS):
            t = tallies[(month_of(a.arrested_on), borough)]
            t.arrests += 1
            t.arrested.add(a.person_id)
    return [
        K2Row(month, borough, t.prosecutions, len(t.prosecuted), t.arrests, len(t.arrested))
        for (month, borough), t in sorted(tallies.items())
    ]

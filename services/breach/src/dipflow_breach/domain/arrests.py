"""Arrest requests (docs/rules.md D5, D6, A4, B4) and time to arrest (K3), pure.

Three sources, each with its legal basis and deadline:
- a DRR breach: for PPOs and offenders flagged high-risk a premium arrest with a target of
  ``ppo_arrest_target_hours`` (D5); otherwise by the enforcement due date (D4);
- a failure without good cause to attend or to remain for a required assessment (DA05 s.12(3)/s.14(3), A4/A5):
  within
  ``assessment_failure_working_days`` working days;
- a broken bail condition to undergo assessment (BA76 s.7(3), B4): within ``bail_breach_target_hours``.
A new custody booking of the person closes the request; the time from request to arrest is measured (D6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dipflow.working_days import add_working_days

LONDON = ZoneInfo("Europe/London")


class Source(StrEnum):
    drr_breach = "drr_breach"
    assessment_failure = "assessment_failure"
    bail_condition = "bail_condition"


@dataclass(frozen=True)
class ArrestPolicy:
    ppo_arrest_target_hours: int = 24
    assessment_failure_working_days: int = 10
    bail_breach_target_hours: int = 24


@dataclass(frozen=True)
class ArrestTarget:
    deadline_at: datetime
    premium: bool
    basis: str
    rule_ids: tuple[str, ...]


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=LONDON)


def arrest_target(
    source: Source, requested_at: datetime, policy: ArrestPolicy, *, fast_track: bool = False,
    enforcement_due: date | None = None, offence: str | None = None, failed_to: str = "attend",
) -> ArrestTarget:  # fmt: skip
    """When the arrest is due, on what basis, and whether it is a premium (fast-track) request."""
    if source is Source.drr_breach:
        if fast_track:
            return ArrestTarget(requested_at + timedelta(hours=policy.ppo_arrest_target_hours), True,
                                "DRR breach (CJA03 Sch 8): PPO / high-risk fast track, premium arrest", ("D5", "D6"))  # fmt: skip
        due = enforcement_due or add_working_days(requested_at.astimezone(LONDON).date(), 10)
        return ArrestTarget(
            end_of_day(due), False, "DRR breach (CJA03 Sch 8): warrant or summons", ("D4", "D6")
        )
    if source is Source.assessment_failure:
        due = add_working_days(requested_at.astimezone(LONDON).date(), policy.assessment_failure_working_days)
        what = "remain for the whole of" if failed_to == "remain" else "attend"
        return ArrestTarget(end_of_day(due), fast_track,
                            f"failure to {what} a required assessment without good cause ({offence or 'DA05 s.12(3)'})",
                            ("A4", "A5", "D6"))  # fmt: skip
    return ArrestTarget(requested_at + timedelta(hours=policy.bail_breach_target_hours), fast_track,
                        "broken bail condition to undergo assessment: arrest without warrant (BA76 s.7(3))", ("B4", "D6"))  # fmt: skip


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


@dataclass(frozen=True)
class Distribution:
    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    max_hours: float | None
    within_target: int
    buckets: dict[str, int]


BUCKETS = ((6, "<6h"), (24, "6-24h"), (72, "1-3d"), (168, "3-7d"), (math.inf, ">7d"))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(hours: Sequence[float], met_target: Sequence[bool]) -> Distribution:
    """K3: the time-to-arrest distribution, not just the mean."""
    values = sorted(hours)
    buckets = {label: 0 for _, label in BUCKETS}
    for h in values:
        buckets[next(label for bound, label in BUCKETS if h < bound)] += 1
    if not values:
        return Distribution(0, None, None, None, None, 0, buckets)
    return Distribution(
        count=len(values), mean_hours=sum(values) / len(values), p50_hours=percentile(values, 0.5),
        p90_hours=percentile(values, 0.9), max_hours=values[-1], within_target=sum(met_target), buckets=buckets,
    )  # fmt: skip


@dataclass(frozen=True)
class ArrestOutcome:
    """One arrest request as K3 sees it."""

    source: str
    borough: str
    ppo: bool
    requested_at: datetime
    deadline_at: datetime
    arrested_at: datetime | None


@dataclass(frozen=True)
class K3Row:
    source: str
    borough: str
    ppo: bool
    distribution: Distribution
    still_open: int


def k3(outcomes: Sequence[ArrestOutcome]) -> list[K3Row]:
    """K3 (D6): time to arrest by source, borough and PPO status, with the requests still open."""
    groups: dict[tuple[str, str, bool], list[ArrestOutcome]] = {}
    for o in outcomes:
        groups.setdefault((o.source, o.borough, o.ppo), []).append(o)
    rows = []
    for (source, borough, ppo), members in sorted(groups.items()):
        done = [(m, m.arrested_at) for m in members if m.arrested_at is not None]
        d = distribution(
            [hours_between(m.requested_at, at) for m, at in done], [at <= m.deadline_at for m, at in done]
        )
        rows.append(K3Row(source, borough, ppo, d, len(members) - len(done)))
    return rows

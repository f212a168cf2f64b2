"""Arrest requests (docs/rules.md D5, D6, A4, B4) and time to arrest (K3), pure.

Three sources, each with its legal basis and deadline:
- a DRR breach: for PPOs and offenders flagged high-risk a premium arrest with a target of
  ``ppo_arrest_target_hours`` (D5); otherwise by the enforcement due date (D4);
- a failure without good cause to attend or to remain for a required assessment (DA05 s.12(3)/s.14(3), A4/A5):
  within
  ``assessment_failure_working_days`` working days;
- a broken bail condition to undergo assessment (BA76 s.7(3), B4): within ``bail_breach_target_hours``.
A new custody booking of the person closes the request; the time from request to arrest is measured (D6).
An :class:`ArrestRequest` is opened once per source reference, escalates once when its target passes with the
person not arrested (D5), is closed by the first booking made after it (D6), and is cancelled when the
prosecution for the failure behind it is dropped (A6).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from dipflow.periods import Granularity, period_of
from dipflow.working_days import LONDON, add_working_days, london_day

ARREST_TARGET = "breach.arrest_target"
"""The timer of an open arrest request: its target passed (D5)."""
PROSECUTION_DROPPED = "prosecution dropped (A6)"


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


def fast_track(*, ppo: bool, high_risk: bool) -> bool:
    """D5: a breach by a PPO or by an offender flagged high-risk is fast-tracked (a premium arrest)."""
    return ppo or high_risk


def arrest_target(
    source: Source,
    requested_at: datetime,
    policy: ArrestPolicy,
    *,
    fast_track: bool = False,
    enforcement_due: date | None = None,
    offence: str | None = None,
    failed_to: str = "attend",
) -> ArrestTarget:
    """When the arrest is due, on what basis, and whether it is a premium (fast-track) request."""
    if source is Source.drr_breach:
        if fast_track:
            return ArrestTarget(
                requested_at + timedelta(hours=policy.ppo_arrest_target_hours),
                True,
                "DRR breach (CJA03 Sch 8): PPO / high-risk fast track, premium arrest",
                ("D5", "D6"),
            )
        due = enforcement_due or add_working_days(london_day(requested_at), 10)
        return ArrestTarget(
            end_of_day(due), False, "DRR breach (CJA03 Sch 8): warrant or summons", ("D4", "D6")
        )
    if source is Source.assessment_failure:
        due = add_working_days(london_day(requested_at), policy.assessment_failure_working_days)
        what = "remain for the whole of" if failed_to == "remain" else "attend"
        return ArrestTarget(
            end_of_day(due),
            fast_track,
            f"failure to {what} a required assessment without good cause ({offence or 'DA05 s.12(3)'})",
            ("A4", "A5", "D6"),
        )
    return ArrestTarget(
        requested_at + timedelta(hours=policy.bail_breach_target_hours),
        fast_track,
        "broken bail condition to undergo assessment: arrest without warrant (BA76 s.7(3))",
        ("B4", "D6"),
    )


@dataclass(frozen=True)
class RequestArrest:
    """Ask for a person's arrest: why (the source and its reference: one request per reference), where, when."""

    person_id: str
    source: Source
    source_ref: str
    area: str
    requested_at: datetime
    high_risk: bool = False
    """D5: the DRR order's offender is flagged high-risk."""
    enforcement_due: date | None = None
    """D4: a DRR breach that is not fast-tracked is due with the enforcement action."""
    offence: str | None = None
    failed_to: str = "attend"
    """A4: ``attend`` or ``remain`` (for the whole of an assessment)."""


@dataclass(frozen=True)
class Booking:
    """A custody booking of a person: it answers their arrest requests made before it (D6)."""

    detention_id: str
    person_id: str
    arrested_at: datetime


@dataclass(frozen=True)
class Arrest:
    """D6: the booking that closed a request, and the time it took."""

    detention_id: str
    arrested_at: datetime
    hours_to_arrest: float
    within_target: bool


@dataclass
class ArrestRequest:
    request_id: str
    person_id: str
    source: Source
    source_ref: str
    area: str
    basis: str
    rule_ids: list[str]
    premium: bool
    ppo: bool
    requested_at: datetime
    deadline_at: datetime
    escalated_at: datetime | None = None
    arrested_at: datetime | None = None
    arrest_detention_id: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @classmethod
    def open(cls, command: RequestArrest, *, ppo: bool, policy: ArrestPolicy) -> ArrestRequest:
        """The request for ``command``: its target and basis (D4/D5, A4/A5, B4), premium on the D5 fast track."""
        target = arrest_target(
            command.source,
            command.requested_at,
            policy,
            fast_track=fast_track(ppo=ppo, high_risk=command.high_risk),
            enforcement_due=command.enforcement_due,
            offence=command.offence,
            failed_to=command.failed_to,
        )
        return cls(
            request_id=request_id_for(command.source, command.source_ref),
            person_id=command.person_id,
            source=command.source,
            source_ref=command.source_ref,
            area=command.area,
            basis=target.basis,
            rule_ids=list(target.rule_ids),
            premium=target.premium,
            ppo=ppo,
            requested_at=command.requested_at,
            deadline_at=target.deadline_at,
        )

    @property
    def is_open(self) -> bool:
        return self.arrested_at is None and self.cancelled_at is None

    def answered_by(self, booking: Booking) -> bool:
        """D6: a booking of the person made when or after the request was, while it is open, answers it."""
        return self.is_open and booking.arrested_at >= self.requested_at

    def first_answer(self, bookings: Iterable[Booking]) -> Booking | None:
        """D6: of the bookings already seen, the first that answers this request (events come in no fixed
        order)."""
        return min((b for b in bookings if self.answered_by(b)), key=lambda b: b.arrested_at, default=None)

    def close(self, booking: Booking) -> Arrest | None:
        """D6: the booking closes the request, and the time to arrest is measured; None when it was closed
        already."""
        if not self.answered_by(booking):
            return None
        self.arrested_at, self.arrest_detention_id = booking.arrested_at, booking.detention_id
        return Arrest(
            booking.detention_id,
            booking.arrested_at,
            round(hours_between(self.requested_at, booking.arrested_at), 3),
            booking.arrested_at <= self.deadline_at,
        )

    def escalate(self, at: datetime) -> bool:
        """D5: the target passed with the person not arrested: escalated once. Whether it was."""
        if not self.is_open or self.escalated_at is not None:
            return False
        self.escalated_at = at
        return True

    def dropped_with(self, assessment_id: str) -> bool:
        """A6: an open request for a failure at the assessment whose prosecution was dropped."""
        return (
            self.is_open
            and self.source is Source.assessment_failure
            and self.source_ref.startswith(f"{assessment_id}:")
        )

    def cancel(self, reason: str, at: datetime) -> None:
        self.cancelled_at, self.cancel_reason = at, reason


def request_id_for(source: Source, source_ref: str) -> str:
    """One request per source reference: the same failure or breach asks for one arrest."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dipflow:arrest:{source}:{source_ref}"))


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
        count=len(values),
        mean_hours=sum(values) / len(values),
        p50_hours=percentile(values, 0.5),
        p90_hours=percentile(values, 0.9),
        max_hours=values[-1],
        within_target=sum(met_target),
        buckets=buckets,
    )


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
    period: str | None = None
    baseline_period: str | None = None
    baseline: Distribution | None = None

    @property
    def median_change(self) -> float | None:
        """The median time to arrest against the baseline's (negative: a reduction, which 5.2.1 asks for)."""
        now, then = self.distribution.p50_hours, self.baseline.p50_hours if self.baseline else None
        return None if now is None or not then else now / then - 1


K3Key = tuple[str, str, bool]


def k3(
    outcomes: Sequence[ArrestOutcome],
    per: Granularity | None = None,
    baseline: tuple[str, Mapping[K3Key, Distribution]] | None = None,
) -> list[K3Row]:
    """K3 (D6): time to arrest by source, borough and PPO status (and by the period of the request, London
    days, when ``per`` is given), with the requests still open; each group beside its distribution in the
    ``baseline`` period when one is given."""
    groups: dict[tuple[str, str, bool, str], list[ArrestOutcome]] = {}
    for o in outcomes:
        period = "" if per is None else period_of(london_day(o.requested_at), per)
        groups.setdefault((o.source, o.borough, o.ppo, period), []).append(o)
    rows = []
    for (source, borough, ppo, period), members in sorted(groups.items(), key=lambda g: (g[0][3], g[0][:3])):
        done = [(m, m.arrested_at) for m in members if m.arrested_at is not None]
        d = distribution(
            [hours_between(m.requested_at, at) for m, at in done], [at <= m.deadline_at for m, at in done]
        )
        row = K3Row(source, borough, ppo, d, len(members) - len(done), period or None)
        if baseline is not None:
            name, by_group = baseline
            row = replace(row, baseline_period=name, baseline=by_group.get((source, borough, ppo)))
        rows.append(row)
    return rows


def k3_baseline(outcomes: Sequence[ArrestOutcome]) -> dict[K3Key, Distribution]:
    """Each group's distribution over a baseline period's requests."""
    return {(r.source, r.borough, r.ppo): r.distribution for r in k3(outcomes)}

"""Proposing an initial appointment and choosing the worker (docs/rules.md A3, A9).

The appointment is on a working day (England & Wales), in working hours, within ``initial_within_days`` of the
result; when the result is disputed, no earlier than ``confirmation_working_days`` working days after the sample
was sent for confirmation. The worker is one covering the custody suite, working that weekday, not on leave,
with room under their daily capacity; among them the least loaded that day (then the lowest id). A follow-up
stays with the initial assessment's worker where that worker can take it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from dipflow.working_days import LONDON as LONDON
from dipflow.working_days import add_working_days, is_working_day, london_day, next_working_day


@dataclass(frozen=True)
class Leave:
    first_day: date
    last_day: date
    reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Worker:
    worker_id: str
    suites: frozenset[str]
    daily_capacity: int
    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    leave: tuple[Leave, ...] = ()
    active: bool = True

    def available_on(self, day: date) -> bool:
        return (
            self.active
            and day.weekday() in self.working_weekdays
            and not any(period.covers(day) for period in self.leave)
        )


@dataclass(frozen=True)
class StaffMember:
    """A worker as their managers record them: the team (area) they belong to, and what assignment reads."""

    worker_id: str
    name: str
    area: str
    suites: tuple[str, ...]
    daily_capacity: int
    working_weekdays: tuple[int, ...]
    active: bool = True
    leave: tuple[Leave, ...] = ()


@dataclass(frozen=True)
class AppointmentPolicy:
    initial_within_days: int = 7
    confirmation_working_days: int = 5
    day_starts: time = time(9, 30)
    day_ends: time = time(17, 0)
    slot_minutes: int = 60
    default_place: str = "the DIP office named on the notice"
    unassigned_escalation_before: timedelta = timedelta(hours=24)
    """A9: an appointment nobody could take is escalated to the managers this long before it."""

    def slots_per_day(self) -> int:
        minutes = (self.day_ends.hour * 60 + self.day_ends.minute) - (
            self.day_starts.hour * 60 + self.day_starts.minute
        )
        return max(1, minutes // self.slot_minutes)


@dataclass(frozen=True)
class Proposal:
    """An appointment with a worker, or ``worker_id`` None when nobody could take it (the unassigned queue)."""

    at: datetime | None
    worker_id: str | None
    rule_ids: tuple[str, ...]
    reason: str
    candidates_considered: int = 0
    earliest: date | None = None
    latest: date | None = None


@dataclass(frozen=True)
class Slot:
    """A9: a worker and the time of their free slot on a day."""

    worker_id: str
    at: datetime


@dataclass
class Loads:
    """Appointments each worker already has, by day (from the database)."""

    by_worker_day: dict[tuple[str, date], int] = field(default_factory=dict)
    times: dict[tuple[str, date], frozenset[datetime]] = field(default_factory=dict)

    def of(self, worker_id: str, day: date) -> int:
        return self.by_worker_day.get((worker_id, day), 0)

    def free_slot(self, worker_id: str, day: date, policy: AppointmentPolicy) -> datetime:
        """The worker's first slot that day not already taken (a lapsed appointment frees its slot)."""
        taken = self.times.get((worker_id, day), frozenset())
        for index in range(policy.slots_per_day()):
            at = slot_time(day, index, policy)
            if at not in taken:
                return at
        return slot_time(day, self.of(worker_id, day), policy)


def window(
    result_at: datetime,
    disputed: bool,
    policy: AppointmentPolicy,
    *,
    confirmation_from: datetime | None = None,
) -> tuple[date, date]:
    """The first and last day an initial appointment may be offered on (A3). For a disputed result the working
    days run from ``confirmation_from``, the dispatch of the sample for confirmation (the result until then)."""
    result_day = london_day(result_at)
    earliest = result_day + timedelta(days=1)
    latest = result_day + timedelta(days=policy.initial_within_days)
    if disputed:
        sent_day = london_day(confirmation_from or result_at)
        earliest = max(earliest, add_working_days(sent_day, policy.confirmation_working_days))
        latest = max(latest, earliest + timedelta(days=policy.initial_within_days - 1))
    return earliest, latest


def choose_worker(
    workers: Iterable[Worker], loads: Loads, suite: str, day: date, *, prefer: str | None = None
) -> Worker | None:
    """A9: the least-loaded worker covering ``suite`` with room on ``day``; ``prefer`` wins when they have room."""
    able = [
        w
        for w in workers
        if suite in w.suites and w.available_on(day) and loads.of(w.worker_id, day) < w.daily_capacity
    ]
    if not able:
        return None
    preferred = next((w for w in able if w.worker_id == prefer), None)
    if preferred is not None:
        return preferred
    return min(able, key=lambda w: (loads.of(w.worker_id, day), w.worker_id))


def slot_time(day: date, taken: int, policy: AppointmentPolicy) -> datetime:
    """The ``taken``-th slot of the day (the worker's next free hour), London time."""
    start = datetime.combine(day, policy.day_starts, tzinfo=LONDON)
    return start + timedelta(minutes=policy.slot_minutes * (taken % policy.slots_per_day()))


def first_slot_from(day: date, policy: AppointmentPolicy) -> datetime:
    """The first slot of the first working day from ``day``: where an appointment nobody could take waits, with
    no worker (the unassigned queue, A9)."""
    return slot_time(next_working_day(day), 0, policy)


def propose(
    workers: Iterable[Worker],
    loads: Loads,
    *,
    suite: str,
    earliest: date,
    latest: date,
    policy: AppointmentPolicy,
    prefer: str | None = None,
    rule_ids: tuple[str, ...] = ("A3", "A9"),
) -> Proposal:
    """The first working day in [earliest, latest] with a worker who can take the appointment."""
    pool = list(workers)
    capacity_cap = policy.slots_per_day()
    day = earliest
    considered = 0
    while day <= latest:
        if is_working_day(day):
            considered += 1
            chosen = choose_worker(capped_to_slots(pool, capacity_cap), loads, suite, day, prefer=prefer)
            if chosen is not None:
                at = loads.free_slot(chosen.worker_id, day, policy)
                return Proposal(
                    at,
                    chosen.worker_id,
                    rule_ids,
                    f"{at:%a %d %b %Y %H:%M} with worker {chosen.worker_id}, the least loaded covering {suite}",
                    considered,
                    earliest,
                    latest,
                )
        day += timedelta(days=1)
    return Proposal(
        None,
        None,
        rule_ids,
        f"no worker covering {suite} has room on a working day from {earliest:%d %b} to {latest:%d %b %Y}",
        considered,
        earliest,
        latest,
    )


def capped_to_slots(workers: Iterable[Worker], slots: int) -> list[Worker]:
    """A day has only so many appointment slots: capacity above that cannot be used."""
    return [
        w
        if w.daily_capacity <= slots
        else Worker(w.worker_id, w.suites, slots, w.working_weekdays, w.leave, w.active)
        for w in workers
    ]


def slot_on(
    workers: Iterable[Worker],
    loads: Loads,
    suite: str,
    day: date,
    policy: AppointmentPolicy,
    *,
    prefer: str | None = None,
    exclude: str | None = None,
) -> Slot | None:
    """A9 on one day: the worker :func:`choose_worker` picks among those covering ``suite`` (but ``exclude``), with
    capacity capped to the day's slots, and their first free slot; None when nobody has room."""
    able = capped_to_slots((w for w in workers if w.worker_id != exclude), policy.slots_per_day())
    chosen = choose_worker(able, loads, suite, day, prefer=prefer)
    if chosen is None:
        return None
    return Slot(chosen.worker_id, loads.free_slot(chosen.worker_id, day, policy))


def load_after(loads: Loads, worker_id: str, day: date, at: datetime | None = None) -> Loads:
    """The loads with one more appointment for ``worker_id`` on ``day`` (at ``at``)."""
    updated = dict(loads.by_worker_day)
    updated[(worker_id, day)] = loads.of(worker_id, day) + 1
    times = dict(loads.times)
    if at is not None:
        times[(worker_id, day)] = times.get((worker_id, day), frozenset()) | {at}
    return Loads(updated, times)

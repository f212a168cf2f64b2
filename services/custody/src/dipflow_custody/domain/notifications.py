"""Station and area notifications (which suites may test, on arrest, on charge, under 18, and which areas have
assessment and restriction-on-bail arrangements), as effective-dated reference data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class NotificationKind(StrEnum):
    testing_on_arrest = "testing_on_arrest"
    testing_on_charge = "testing_on_charge"
    under_18_testing = "under_18_testing"
    initial_assessment = "initial_assessment"
    follow_up_assessment = "follow_up_assessment"
    restriction_on_bail = "restriction_on_bail"


@dataclass(frozen=True)
class NotificationPeriod:
    """``place`` (a custody suite id, or an area for assessment and bail arrangements) is notified for ``kind``
    from ``valid_from`` to ``valid_to`` inclusive (open-ended when None)."""

    place: str
    kind: NotificationKind
    valid_from: date
    valid_to: date | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class Notified:
    """What one place was notified for on one day."""

    place: str
    on: date
    kinds: frozenset[NotificationKind]

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds


def notified_on(periods: Iterable[NotificationPeriod], place: str, on: date) -> Notified:
    return Notified(place, on, frozenset(p.kind for p in periods if p.place == place and p.in_force(on)))

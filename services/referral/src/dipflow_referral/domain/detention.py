"""What the referral service knows of a custody detention, from custody's events: the facts A1 (released?), B1
(age, positives, charges, the home area's arrangements) and K4 read, and the area its cases belong to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

UNKNOWN_AREA = "unknown"


@dataclass(frozen=True)
class Detention:
    detention_id: str
    person_id: str
    suite: str | None
    suite_area: str | None
    """The borough the custody suite serves, as custody's booking said (``custody.booked_in``)."""
    home_area: str | None
    age: int | None
    arrested_at: datetime | None
    released_at: datetime | None
    charged_at: datetime | None
    charged_codes: frozenset[str]
    restriction_notified: bool | None
    class_a_offence_codes: frozenset[str]
    positive_drugs: frozenset[str]

    @property
    def area(self) -> str:
        """The area the detention's required assessment and bail case belong to: the suite's borough (workers
        cover suites; managers and court liaison cover boroughs). A booking that did not say it (published
        before custody carried the suite's area) falls back to the person's home area."""
        return self.suite_area or self.home_area or UNKNOWN_AREA

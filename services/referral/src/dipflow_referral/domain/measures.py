"""K4: arrest referral measures by month, borough and custody suite (counts only, never people)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

K4_MEASURES = (
    "tests",
    "positives",
    "requirements_imposed",
    "requirements_lapsed",
    "initial_attended",
    "follow_up_attended",
    "failures",
    "entered_treatment",
)


@dataclass(frozen=True)
class K4Count:
    """How many of one measure happened in a month at a suite serving a borough."""

    measure: str
    month: str
    borough: str
    suite: str
    n: int


@dataclass(frozen=True)
class K4Line:
    month: str
    borough: str
    suite: str
    counts: dict[str, int]


def k4_table(counts: Iterable[K4Count]) -> list[K4Line]:
    """K4: one line per month, borough and suite, each measure summed, in that order."""
    table: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for c in counts:
        cell = table[(c.month, c.borough, c.suite)]
        cell[c.measure] = cell.get(c.measure, 0) + c.n
    return [
        K4Line(month, borough, suite, counts) for (month, borough, suite), counts in sorted(table.items())
    ]

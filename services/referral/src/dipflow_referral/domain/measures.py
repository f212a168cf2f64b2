"""K4: arrest referral measures by period, borough and custody suite (counts only, never people), and optionally
by the drugs the test found or by PPO status (the 2003-06 plan's criteria and "entered treatment by PPO")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dipflow.periods import Granularity, period_of_month

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
COCAINE = frozenset({"cocaine"})
"""Cocaine, crack included (T12)."""
OPIATES = frozenset(
    {"opiates", "morphine", "opium", "methadone", "codeine", "fentanyl", "oxycodone", "pethidine"}
)
"""The opiate test (heroin) and the opioids specified since 2 August 2023 (T14)."""


class Breakdown(StrEnum):
    drug = "drug"
    ppo = "ppo"


@dataclass(frozen=True)
class K4Count:
    """How many of one measure happened in a month at a suite serving a borough, for people of one PPO status
    whose test found ``drugs``."""

    measure: str
    month: str
    borough: str
    suite: str
    n: int
    ppo: bool | None = None
    drugs: tuple[str, ...] = ()


@dataclass(frozen=True)
class K4Line:
    period: str
    borough: str
    suite: str
    counts: dict[str, int]
    group: str | None = None


def drug_group(drugs: Iterable[str]) -> str:
    """The 2003-06 plan's groups: cocaine or crack, opiates, both, other drugs only, or a negative test."""
    found = set(drugs)
    cocaine, opiates = bool(found & COCAINE), bool(found & OPIATES)
    if cocaine and opiates:
        return "cocaine and opiates"
    if cocaine:
        return "cocaine or crack"
    if opiates:
        return "opiates"
    return "other drugs" if found else "negative"


def ppo_group(ppo: bool | None) -> str:
    return "not recorded" if ppo is None else "PPO" if ppo else "not a PPO"


def k4_table(
    counts: Iterable[K4Count], per: Granularity = Granularity.month, by: Breakdown | None = None
) -> list[K4Line]:
    """K4: one line per period, borough, suite (and group when broken down), each measure summed, in that order.
    Months add up to quarters and financial years exactly."""
    table: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(dict)
    for c in counts:
        period = period_of_month(c.month, per)
        group = "" if by is None else drug_group(c.drugs) if by is Breakdown.drug else ppo_group(c.ppo)
        cell = table[(period, c.borough, c.suite, group)]
        cell[c.measure] = cell.get(c.measure, 0) + c.n
    return [
        K4Line(period, borough, suite, counts, group or None)
        for (period, borough, suite, group), counts in sorted(table.items())
    ]

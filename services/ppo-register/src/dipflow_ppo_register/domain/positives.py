"""The tested-positive list (docs/rules.md P2): for each PPO, the last positive test, its drugs and the count of
positive tests in the last 12 months.

A positive test is one sample (one detention) with at least one drug found; opiates and cocaine in the same
sample are one positive test with two drugs. A positive whose confirmatory analysis came back negative (T12,
A6) is void and does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dipflow_ppo_register.domain.window import within_months


@dataclass(frozen=True)
class PositiveResult:
    """One drug found positive in one detention's sample."""

    person_id: str
    detention_id: str
    sampled_on: date
    drug: str
    home_area: str
    void: bool = False


@dataclass(frozen=True)
class PositiveTest:
    person_id: str
    detention_id: str
    sampled_on: date
    drugs: tuple[str, ...]
    home_area: str


@dataclass(frozen=True)
class PositiveListEntry:
    person_id: str
    last_positive_on: date
    last_drugs: tuple[str, ...]
    positives_in_12_months: int
    rule_ids: tuple[str, ...] = ("P2",)


def positive_tests(results: Iterable[PositiveResult]) -> list[PositiveTest]:
    """Group the non-void drug results into positive tests, one per detention, oldest first."""
    grouped: dict[tuple[str, str], list[PositiveResult]] = {}
    for r in results:
        if not r.void:
            grouped.setdefault((r.person_id, r.detention_id), []).append(r)
    tests = [
        PositiveTest(
            person_id=person,
            detention_id=detention,
            sampled_on=min(r.sampled_on for r in rs),
            drugs=tuple(sorted({r.drug for r in rs})),
            home_area=rs[-1].home_area,
        )
        for (person, detention), rs in grouped.items()
    ]
    return sorted(tests, key=lambda t: (t.sampled_on, t.detention_id))


def positive_list_entry(tests: Iterable[PositiveTest], on: date) -> PositiveListEntry | None:
    """One person's line on the list as it stood on ``on``; None if they had no positive test by then."""
    known = [t for t in tests if t.sampled_on <= on]
    if not known:
        return None
    last = max(known, key=lambda t: (t.sampled_on, t.detention_id))
    return PositiveListEntry(
        person_id=last.person_id,
        last_positive_on=last.sampled_on,
        last_drugs=last.drugs,
        positives_in_12_months=sum(1 for t in known if within_months(t.sampled_on, on)),
    )

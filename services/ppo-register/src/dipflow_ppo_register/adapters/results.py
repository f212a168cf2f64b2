"""The read models kept from custody and referral events: positive results and failed assessments (P2, P3),
arrests and charges (K1, K2). Writes are queued in a consumer's batch and a read of positives or failures
flushes them first. The changes a batch's events make to one arrest are held to the batch's end (past any
flush) and folded there into one upsert of its row: nothing reads ``arrests`` inside a consumer's transaction
(K1 and K2 read it over HTTP). Each
statement of charges and failures sets only its own columns (or ignores a duplicate), so its effect does not
depend on its order among the others: a batch writes each such statement's rows in one pipelined
``executemany``. A positive result and its voiding keep their order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar
from uuid import UUID

from asyncpg import Record

from dipflow.uow import UnitOfWork
from dipflow_ppo_register.domain.measures import Arrest, Charge
from dipflow_ppo_register.domain.panel import AssessmentFailure
from dipflow_ppo_register.domain.positives import PositiveResult, PositiveTest, positive_tests

_T = TypeVar("_T")

ARREST_COLUMNS = "detention_id, person_id, arrested_on, codes, trigger_offence, offences, inspector_decision, released_on, release"


@dataclass
class _ArrestChange:
    """What a batch's events change on one ``arrests`` row; ``None`` leaves a column as it is."""

    person_id: str
    arrested_on: date | None = None
    suite: str | None = None
    codes: list[str] = field(default_factory=list)
    trigger_offence: bool = False
    offences: int = 0
    inspector_decision: str | None = None
    released_on: date | None = None
    release: str | None = None


_UPSERT_ARREST = (
    "INSERT INTO arrests AS a (detention_id, person_id, arrested_on, codes, trigger_offence, offences, "
    "inspector_decision, released_on, release, suite) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (detention_id) DO UPDATE SET arrested_on = coalesce($3, a.arrested_on), "
    "codes = a.codes || $4, trigger_offence = a.trigger_offence OR $5, offences = a.offences + $6, "
    "inspector_decision = coalesce($7, a.inspector_decision), released_on = coalesce($8, a.released_on), "
    "release = coalesce($9, a.release), suite = coalesce($10, a.suite)"
)


async def _change_arrest(uow: UnitOfWork, detention_id: str, change: _ArrestChange) -> None:
    """Each event's change to its arrest row, folded per row for the whole batch (booked in, offences, the
    inspector's decision, release): one upsert per row at the batch's end, not one per event."""

    async def write(changes: list[tuple[str, _ArrestChange]]) -> None:
        for row, folded in _fold(changes).items():
            await uow.execute_unordered(
                _UPSERT_ARREST,
                row,
                folded.person_id,
                folded.arrested_on,
                folded.codes,
                folded.trigger_offence,
                folded.offences,
                folded.inspector_decision,
                folded.released_on,
                folded.release,
                folded.suite,
            )

    await uow.at_end(("ppo-register", "arrests"), (detention_id, change), write)


def _fold(changes: list[tuple[str, _ArrestChange]]) -> dict[str, _ArrestChange]:
    """The changes to each row in order as one: a later value replaces an earlier, codes append in order, a
    trigger offence stays, offences add up."""
    folded: dict[str, _ArrestChange] = {}
    for row, change in changes:
        into = folded.get(row)
        if into is None:
            folded[row] = replace(change, codes=list(change.codes))
            continue
        into.arrested_on = _later(change.arrested_on, into.arrested_on)
        into.suite = _later(change.suite, into.suite)
        into.codes += change.codes
        into.trigger_offence = into.trigger_offence or change.trigger_offence
        into.offences += change.offences
        into.inspector_decision = _later(change.inspector_decision, into.inspector_decision)
        into.released_on = _later(change.released_on, into.released_on)
        into.release = _later(change.release, into.release)
    return folded


def _later(later: _T | None, earlier: _T | None) -> _T | None:
    return earlier if later is None else later


async def booked_in(
    uow: UnitOfWork, detention_id: str, person_id: str, arrested_on: date, suite: str
) -> None:
    await _change_arrest(uow, detention_id, _ArrestChange(person_id, arrested_on=arrested_on, suite=suite))


async def released(uow: UnitOfWork, detention_id: str, person_id: str, on: date, release: str) -> None:
    await _change_arrest(uow, detention_id, _ArrestChange(person_id, released_on=on, release=release))


async def offence_added(
    uow: UnitOfWork, detention_id: str, person_id: str, code: str, *, trigger: bool, offence: bool
) -> None:
    """``offence`` is False for a power of arrest that is not an offence (a bail breach)."""
    change = _ArrestChange(person_id, codes=[code], trigger_offence=trigger, offences=1 if offence else 0)
    await _change_arrest(uow, detention_id, change)


async def inspector_decided(uow: UnitOfWork, detention_id: str, person_id: str, decision: str) -> None:
    await _change_arrest(uow, detention_id, _ArrestChange(person_id, inspector_decision=decision))


async def charged(uow: UnitOfWork, detention_id: str, person_id: str, on: date, codes: list[str]) -> None:
    await uow.execute_unordered(
        "INSERT INTO charges (detention_id, person_id, charged_on, codes) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (detention_id) DO UPDATE SET charged_on = $3, codes = $4",
        detention_id,
        person_id,
        on,
        codes,
    )


async def positive(uow: UnitOfWork, result: PositiveResult) -> None:
    await uow.execute(
        "INSERT INTO positive_results (detention_id, drug, person_id, sampled_on, home_area) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (detention_id, drug) DO NOTHING",
        result.detention_id,
        result.drug,
        result.person_id,
        result.sampled_on,
        result.home_area,
    )


async def void_positive(uow: UnitOfWork, detention_id: str, drug: str) -> None:
    """A negative confirmatory result: the screening positive no longer counts."""
    await uow.execute(
        "UPDATE positive_results SET void = true WHERE detention_id = $1 AND drug = $2", detention_id, drug
    )


async def assessment_failed(uow: UnitOfWork, event_id: UUID, failure: AssessmentFailure) -> None:
    await uow.execute_unordered(
        "INSERT INTO assessment_failures (event_id, person_id, assessment_id, occurred_on, outcome) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        event_id,
        failure.person_id,
        failure.assessment_id,
        failure.occurred_on,
        failure.outcome,
    )


async def positive_tests_of(
    uow: UnitOfWork, person_ids: Sequence[str], until: date
) -> dict[str, list[PositiveTest]]:
    await uow.flush()
    rows = await uow.conn.fetch(
        "SELECT person_id, detention_id, sampled_on, drug, home_area FROM positive_results "
        "WHERE person_id = ANY($1::text[]) AND NOT void AND sampled_on <= $2",
        list(person_ids),
        until,
    )
    results = [
        PositiveResult(r["person_id"], r["detention_id"], r["sampled_on"], r["drug"], r["home_area"])
        for r in rows
    ]
    by_person: dict[str, list[PositiveTest]] = {}
    for test in positive_tests(results):
        by_person.setdefault(test.person_id, []).append(test)
    return by_person


async def failures_of(
    uow: UnitOfWork, person_ids: Sequence[str], until: date
) -> dict[str, list[AssessmentFailure]]:
    """Each person's failed assessments up to ``until``, earliest first (people with none are absent)."""
    await uow.flush()
    rows = await uow.conn.fetch(
        "SELECT person_id, assessment_id, occurred_on, outcome FROM assessment_failures "
        "WHERE person_id = ANY($1::text[]) AND occurred_on <= $2 ORDER BY occurred_on",
        list(person_ids),
        until,
    )
    by_person: dict[str, list[AssessmentFailure]] = {}
    for r in rows:
        failure = AssessmentFailure(r["person_id"], r["assessment_id"], r["occurred_on"], r["outcome"])
        by_person.setdefault(failure.person_id, []).append(failure)
    return by_person


def _arrest(r: Record) -> Arrest:
    return Arrest(
        r["detention_id"],
        r["person_id"],
        r["arrested_on"],
        frozenset(r["codes"]),
        r["trigger_offence"],
        r["offences"] == 0,
        r["inspector_decision"],
        r["released_on"],
        r["release"],
    )


async def arrests_between(uow: UnitOfWork, first: date, last: date) -> list[Arrest]:
    rows = await uow.conn.fetch(
        f"SELECT {ARREST_COLUMNS} FROM arrests WHERE arrested_on BETWEEN $1 AND $2", first, last
    )
    return [_arrest(r) for r in rows]


async def failures_between(uow: UnitOfWork, first: date, last: date) -> list[AssessmentFailure]:
    """Failures without good cause to attend or remain (A4, A5) notified on London days in [first, last]."""
    rows = await uow.conn.fetch(
        "SELECT person_id, assessment_id, occurred_on, outcome FROM assessment_failures "
        "WHERE occurred_on BETWEEN $1 AND $2 ORDER BY occurred_on",
        first,
        last,
    )
    return [
        AssessmentFailure(r["person_id"], r["assessment_id"], r["occurred_on"], r["outcome"]) for r in rows
    ]


async def since_of(uow: UnitOfWork, people: set[str], first: date) -> tuple[list[Arrest], list[Charge]]:
    """Everything that happened to ``people`` from ``first`` on: their arrests and their charges."""
    arrests = await uow.conn.fetch(
        f"SELECT {ARREST_COLUMNS} FROM arrests WHERE person_id = ANY($1::text[]) AND arrested_on >= $2",
        list(people),
        first,
    )
    charges = await uow.conn.fetch(
        "SELECT detention_id, person_id, charged_on, codes FROM charges WHERE person_id = ANY($1::text[]) "
        "AND charged_on >= $2",
        list(people),
        first,
    )
    return [_arrest(r) for r in arrests], [
        Charge(r["detention_id"], r["person_id"], r["charged_on"], frozenset(r["codes"])) for r in charges
    ]


async def charges_between(uow: UnitOfWork, first: date, last: date) -> list[Charge]:
    rows = await uow.conn.fetch(
        "SELECT detention_id, person_id, charged_on, codes FROM charges WHERE charged_on BETWEEN $1 AND $2",
        first,
        last,
    )
    return [Charge(r["detention_id"], r["person_id"], r["charged_on"], frozenset(r["codes"])) for r in rows]

"""Restriction on bail (B1-B4) in the service layer: evaluated from custody facts when charged, re-evaluated
when facts change; notices for court/CPS liaison; court outcomes; breaches of the condition and the arrest."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from dipflow.working_days import before_justice_by
from dipflow_referral import handlers
from dipflow_referral.adapters import repository as repo
from dipflow_referral.domain.assessment import RuleViolation
from dipflow_referral.domain.bail import BailFacts, Restriction, evaluate_restriction
from dipflow_referral.events import BailBreachArrest, BailConditionBreached, BailNotice, BailOutcomeRecorded

WITH_CONDITION = "bail_with_assessment_condition"
OUTCOMES = ("bail_refused", WITH_CONDITION, "bail_without_condition")
CASE_COLUMNS = (
    "detention_id, person_id, area, agreed, substantial_grounds, restriction, rule_ids, reasons, notified_at, "
    "outcome, court, decided_on, breached_at, breach_what, arrested_at, before_justice_by"
)


async def reevaluate(
    conn: asyncpg.Connection, detention_id: str, at: datetime, ctx: handlers.Context
) -> None:
    """Once charged with a positive result in the detention, decide B1 and tell court/CPS liaison when the
    answer (or its reasons) changes."""
    d = await conn.fetchrow("SELECT * FROM detentions WHERE detention_id = $1", detention_id)
    if d is None or d["charged_at"] is None:
        return
    case = await conn.fetchrow("SELECT * FROM bail_cases WHERE detention_id = $1 FOR UPDATE", detention_id)
    if case is None and not d["positive_drugs"]:
        return
    area = repo.area_of_suite(d["suite"] or "", d["home_area"] or "unknown")
    if case is None:
        await conn.execute(
            "INSERT INTO bail_cases (detention_id, person_id, area) VALUES ($1, $2, $3)",
            detention_id,
            d["person_id"],
            area,
        )
        case = await conn.fetchrow("SELECT * FROM bail_cases WHERE detention_id = $1", detention_id)
    assert case is not None
    decision = evaluate_restriction(
        BailFacts(
            age=d["age"],
            positive_drugs=frozenset(d["positive_drugs"]),
            charged_codes=frozenset(d["charged_codes"]),
            class_a_offence_codes=frozenset(d["class_a_offence_codes"]),
            substantial_grounds=case["substantial_grounds"],
            agreed_to_assessment=case["agreed"],
            area_notified=bool(d["restriction_notified"]),
            home_area=d["home_area"] or "unknown",
        )
    )
    unchanged = case["restriction"] == str(decision.restriction) and list(case["reasons"]) == list(
        decision.reasons
    )
    if unchanged:
        return
    notify = decision.restriction is not Restriction.pending
    await conn.execute(
        "UPDATE bail_cases SET restriction = $2, rule_ids = $3, reasons = $4, updated_at = now(), "
        "notified_at = CASE WHEN $5 THEN $6 ELSE notified_at END WHERE detention_id = $1",
        detention_id, str(decision.restriction), list(decision.rule_ids), list(decision.reasons), notify, at,
    )  # fmt: skip
    if notify:
        await handlers.emit(conn, d["person_id"], [(BailNotice(
            detention_id=detention_id, area=case["area"], restriction=str(decision.restriction),
            rule_ids=list(decision.rule_ids), reasons=list(decision.reasons),
        ), at)], ctx)  # fmt: skip


async def case_of(
    conn: asyncpg.Connection, detention_id: str, *, lock: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {CASE_COLUMNS} FROM bail_cases WHERE detention_id = $1" + (" FOR UPDATE" if lock else ""),
        detention_id,
    )
    return row


async def record_agreement(
    conn: asyncpg.Connection, detention_id: str, *, agreed: bool, substantial_grounds: bool | None, at: datetime,
    ctx: handlers.Context,
) -> None:  # fmt: skip
    await conn.execute(
        "UPDATE bail_cases SET agreed = $2, substantial_grounds = coalesce($3, substantial_grounds) WHERE detention_id = $1",
        detention_id, agreed, substantial_grounds,
    )  # fmt: skip
    await reevaluate(conn, detention_id, at, ctx)


async def record_outcome(
    conn: asyncpg.Connection, case: asyncpg.Record, *, outcome: str, court: str, decided_on: date, at: datetime,
    ctx: handlers.Context,
) -> None:  # fmt: skip
    if case["outcome"] is not None:
        raise RuleViolation("B2", f"the court outcome was already recorded ({case['outcome']})")
    await conn.execute(
        "UPDATE bail_cases SET outcome = $2, court = $3, decided_on = $4, updated_at = now() WHERE detention_id = $1",
        case["detention_id"], outcome, court, decided_on,
    )  # fmt: skip
    await handlers.emit(conn, case["person_id"], [(BailOutcomeRecorded(
        detention_id=case["detention_id"], outcome=outcome, court=court, decided_on=decided_on), at)], ctx)  # fmt: skip
    if outcome == WITH_CONDITION:
        await handlers.on_bail_condition(conn, case["detention_id"], at, ctx)


async def record_breach(
    conn: asyncpg.Connection, case: asyncpg.Record, *, at: datetime, what: str, ctx: handlers.Context
) -> None:
    """B4: the condition to undergo assessment was broken; an arrest without warrant may follow."""
    if case["outcome"] != WITH_CONDITION:
        raise RuleViolation("B4", "there is no bail condition to undergo assessment in this case")
    if case["breached_at"] is not None:
        raise RuleViolation("B4", "a breach of this condition is already recorded")
    await conn.execute(
        "UPDATE bail_cases SET breached_at = $2, breach_what = $3, updated_at = now() WHERE detention_id = $1",
        case["detention_id"], at, what,
    )  # fmt: skip
    await handlers.emit(conn, case["person_id"], [(BailConditionBreached(
        detention_id=case["detention_id"], area=case["area"], what=what, rule_ids=["B4"]), at)], ctx)  # fmt: skip


async def on_breach_arrest(
    conn: asyncpg.Connection,
    person_id: str,
    arrest_detention_id: str,
    arrested_at: datetime,
    ctx: handlers.Context,
) -> None:
    """A custody booking under BA76 s.7(3) of someone whose condition was broken: before a justice within 24
    hours, not counting Sundays, Christmas Day and Good Friday."""
    case = await conn.fetchrow(
        "SELECT detention_id FROM bail_cases WHERE person_id = $1 AND breached_at IS NOT NULL AND arrested_at IS NULL "
        "AND breached_at <= $2 ORDER BY breached_at DESC LIMIT 1 FOR UPDATE",
        person_id, arrested_at,
    )  # fmt: skip
    if case is None:
        return
    deadline = before_justice_by(arrested_at)
    await conn.execute(
        "UPDATE bail_cases SET arrested_at = $2, before_justice_by = $3, updated_at = now() WHERE detention_id = $1",
        case["detention_id"], arrested_at, deadline,
    )  # fmt: skip
    await handlers.emit(conn, person_id, [(BailBreachArrest(
        detention_id=case["detention_id"], arrest_detention_id=arrest_detention_id, arrested_at=arrested_at,
        before_justice_by=deadline, rule_ids=["B4"]), arrested_at)], ctx)  # fmt: skip

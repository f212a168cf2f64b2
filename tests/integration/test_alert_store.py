"""The alert store on a real PostgreSQL: resolving alerts stays a probe of the (kind, subject) index however
many alerts the table holds, on a connection that prepared its statement while the table was empty."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from dipflow.alerts.model import Alert, RaiseAlert
from dipflow.alerts.store import DELIVERIES, WEBHOOK, escalate, raise_alert, receiver, resolve, resolve_all
from dipflow.auth import Principal, Role
from dipflow.db.appends import Writes, batched_writes
from dipflow.uow import Producer, UnitOfWork

pytestmark = pytest.mark.infra

SCANS = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'alerts'"
"""The session's scans of the table not yet reported to the statistics: compared before and after."""


async def test_resolving_alerts_probes_the_index_however_the_table_grew(service_pool: asyncpg.Pool) -> None:
    async with service_pool.acquire() as conn:
        actor = Principal(subject="t", role=Role.admin, area="*")
        uow = UnitOfWork(Writes(conn), Producer("t", "t.a"), correlation_id="c-1", actor=actor)
        for n in range(8):  # past the five custom plans after which PostgreSQL may keep a generic one
            await resolve_all(uow, [("overdue", f"none-{n}"), ("unassigned", f"none-{n}")], resolution="r")
        await conn.execute(
            "INSERT INTO alerts (alert_id, kind, subject, role, area, due_at, summary) "
            "SELECT gen_random_uuid(), k, 's' || i, 'referral_manager', 'lambeth', now(), 'x' "
            "FROM generate_series(1, 20000) AS i, unnest(ARRAY['overdue', 'unassigned']) AS k"
        )
        async with conn.transaction():
            before = await conn.fetchrow(SCANS)
            await resolve_all(uow, [("overdue", "s7"), ("unassigned", "s9")], resolution="answered")
            after = await conn.fetchrow(SCANS)
        states = await conn.fetch(
            "SELECT kind, subject FROM alerts WHERE state = 'resolved' ORDER BY kind, subject"
        )
    assert [(r["kind"], r["subject"]) for r in states] == [("overdue", "s7"), ("unassigned", "s9")]
    assert after["seq_scan"] == before["seq_scan"]
    assert after["idx_scan"] > before["idx_scan"]


async def _alerts_in_states(conn: asyncpg.Connection, alerts: list[tuple[str, str, str]]) -> None:
    """Alerts (kind, subject, state) of person ``P-<subject>``, as if raised and changed before."""
    await conn.executemany(
        "INSERT INTO alerts (alert_id, kind, subject, person_id, role, area, due_at, summary, state) "
        "VALUES (gen_random_uuid(), $1, $2, 'P-' || $2, 'referral_manager', 'lambeth', now(), 'x', $3)",
        alerts,
    )


async def test_resolving_several_alerts_is_one_round_trip_and_resolves_only_the_open_ones(
    service_pool: asyncpg.Pool,
) -> None:
    statements: list[str] = []
    async with service_pool.acquire() as conn:
        await _alerts_in_states(
            conn,
            [("overdue", "c1", "open"), ("unassigned", "c1", "acknowledged"), ("overdue", "c2", "resolved")],
        )
        actor = Principal(subject="t", role=Role.admin, area="*")
        uow = UnitOfWork(Writes(conn), Producer("t", "t.a"), correlation_id="c-1", actor=actor)
        pairs = [("overdue", "c1"), ("unassigned", "c1"), ("overdue", "c2"), ("unassigned", "c2")]
        with conn.query_logger(lambda record: statements.append(record.query)):
            await resolve_all(uow, pairs, resolution="answered")
            await resolve_all(uow, [], resolution="answered")
        states = await conn.fetch(
            "SELECT kind, subject, state, resolution FROM alerts ORDER BY subject, kind"
        )
        audits = await conn.fetch("SELECT action, person_id FROM audit_log ORDER BY id")
    assert [tuple(r) for r in states] == [
        ("overdue", "c1", "resolved", "answered"),
        ("unassigned", "c1", "resolved", "answered"),
        ("overdue", "c2", "resolved", None),
    ]
    assert [tuple(r) for r in audits] == [("alert.resolve", "P-c1"), ("alert.resolve", "P-c1")]
    assert len([q for q in statements if q.startswith("UPDATE alerts")]) == 1


async def test_resolving_alerts_that_are_not_open_writes_nothing(service_pool: asyncpg.Pool) -> None:
    """Most resolutions answer a case whose clock never raised an alert: one read finds none open, and no
    update is sent."""
    statements: list[str] = []
    async with service_pool.acquire() as conn:
        await _alerts_in_states(conn, [("overdue", "done", "resolved"), ("overdue", "other", "open")])
        uow = UnitOfWork(Writes(conn), Producer("t", "t.a"), correlation_id="c-1")
        with conn.query_logger(lambda record: statements.append(record.query)):
            await resolve_all(
                uow, [("overdue", "done"), ("unassigned", "other"), ("overdue", "never")], resolution="r"
            )
        states = await conn.fetch("SELECT subject, state, resolution FROM alerts ORDER BY subject")
        audits = await conn.fetchval("SELECT count(*) FROM audit_log")
    assert [tuple(r) for r in states] == [("done", "resolved", None), ("other", "open", None)]
    assert audits == 0
    assert len(statements) == 1
    assert not statements[0].startswith("UPDATE")


async def test_an_alert_for_a_role_with_a_webhook_queues_its_delivery_with_the_batchs_writes(
    service_pool: asyncpg.Pool,
) -> None:
    """In a consumer's batch, the delivery of a raised alert and its first attempt are one queued statement:
    nothing about the delivery is read back, and both are written when the batch is."""
    statements: list[str] = []
    async with service_pool.acquire() as conn:
        async with conn.transaction(), batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("t", "t.a"))
            await DELIVERIES.set_receiver(
                uow, receiver("referral_manager", "camden"), "https://m.example/h", "s"
            )
            with conn.query_logger(lambda record: statements.append(record.query)):
                for n in range(2):
                    await raise_alert(
                        uow,
                        RaiseAlert(
                            "unassigned", f"c{n}", "referral_manager", "camden", datetime.now(UTC), "x"
                        ),
                    )
            assert await conn.fetchval("SELECT count(*) FROM alerts") == 0  # raised at the batch's end
            assert await conn.fetchval("SELECT count(*) FROM alert_deliveries") == 0
        deliveries = await conn.fetch("SELECT id, alert_id::text FROM alert_deliveries ORDER BY id")
        attempts = await conn.fetch("SELECT subject FROM deadlines WHERE kind = $1 ORDER BY id", WEBHOOK)
    assert [q for q in statements if "alert_deliveries" in q] == []
    assert [r["alert_id"] for r in deliveries] == [
        RaiseAlert("unassigned", f"c{n}", "referral_manager", "camden", datetime.now(UTC), "x").alert_id
        for n in range(2)
    ]
    assert [a["subject"] for a in attempts] == [f"{r['id']}:1" for r in deliveries]


async def test_a_batchs_raises_and_resolutions_keep_each_alerts_order_in_the_fewest_round_trips(
    service_pool: asyncpg.Pool,
) -> None:
    """In a consumer's batch an alert's raise and resolution go in the order asked (a resolution asked before the
    raise finds nothing to resolve; one asked after resolves it), while the changes of other alerts share their
    round trips; what follows a raise is given the alert raised, or None when it had been raised before."""
    statements: list[str] = []
    followed: list[tuple[str, str | None]] = []

    def alert(subject: str) -> RaiseAlert:
        return RaiseAlert(
            "unassigned", subject, "referral_manager", "camden", datetime.now(UTC), "x", person_id="P"
        )

    def then(subject: str) -> Callable[[Alert | None], Awaitable[None]]:
        async def record(raised: Alert | None) -> None:
            followed.append((subject, raised.subject if raised else None))

        return record

    async with service_pool.acquire() as conn:
        await raise_alert(UnitOfWork(Writes(conn), Producer("t", "t.a")), alert("earlier"))
        with conn.query_logger(lambda record: statements.append(record.query)):
            async with conn.transaction(), batched_writes(conn) as writes:
                uow = UnitOfWork(writes, Producer("t", "t.a"))
                await resolve(uow, "unassigned", "answered-first", resolution="too soon")
                await raise_alert(uow, alert("raised-then-answered"), then("raised-then-answered"))
                await raise_alert(uow, alert("answered-first"), then("answered-first"))
                await raise_alert(uow, alert("open"), then("open"))
                await resolve(uow, "unassigned", "raised-then-answered", resolution="answered")
                await raise_alert(uow, alert("earlier"), then("earlier"))
        states = await conn.fetch("SELECT subject, state, resolution FROM alerts ORDER BY subject")
        audits = await conn.fetch("SELECT action, detail->>'alert_id' AS alert FROM audit_log ORDER BY id")
    assert [tuple(r) for r in states] == [
        ("answered-first", "open", None),
        ("earlier", "open", None),
        ("open", "open", None),
        ("raised-then-answered", "resolved", "answered"),
    ]
    assert followed == [
        ("raised-then-answered", "raised-then-answered"),
        ("answered-first", "answered-first"),
        ("open", "open"),
        ("earlier", None),
    ]
    assert [r["action"] for r in audits] == ["alert.raise"] * 4 + ["alert.resolve"]
    assert len([q for q in statements if q.startswith("INSERT INTO alerts")]) == 1
    assert len([q for q in statements if q.startswith("UPDATE alerts")]) == 1  # the first found none open


async def test_a_batchs_escalations_go_at_its_end_in_order_with_each_alerts_raise_and_resolution(
    service_pool: asyncpg.Pool,
) -> None:
    """An escalation asked in a batch waits for the batch's end like raises and resolutions: one asked after the
    alert's raise escalates it, one asked before its resolution is undone by it, one of an alert never raised
    does nothing; escalations of different alerts share a round trip."""
    statements: list[str] = []

    def alert(subject: str) -> RaiseAlert:
        return RaiseAlert(
            "unassigned", subject, "referral_worker", "camden", datetime.now(UTC), "x", person_id="P"
        )

    async with service_pool.acquire() as conn:
        for subject in ("earlier", "answered"):
            await raise_alert(UnitOfWork(Writes(conn), Producer("t", "t.a")), alert(subject))
        with conn.query_logger(lambda record: statements.append(record.query)):
            async with conn.transaction(), batched_writes(conn) as writes:
                uow = UnitOfWork(writes, Producer("t", "t.a"))
                for subject in ("earlier", "answered"):
                    await escalate(uow, "unassigned", subject, to_role="referral_manager")
                await resolve(uow, "unassigned", "answered", resolution="answered")
                await raise_alert(uow, alert("new"))
                await escalate(uow, "unassigned", "new", to_role="referral_manager")
                await escalate(uow, "unassigned", "never", to_role="referral_manager")
                assert await conn.fetchval("SELECT count(*) FROM alerts WHERE state = 'escalated'") == 0
        states = await conn.fetch("SELECT subject, state, role FROM alerts ORDER BY subject")
        audits = await conn.fetch(
            "SELECT action, count(*) AS n FROM audit_log WHERE action LIKE 'alert.%' GROUP BY action"
        )
    assert [tuple(r) for r in states] == [
        ("answered", "resolved", "referral_manager"),
        ("earlier", "escalated", "referral_manager"),
        ("new", "escalated", "referral_manager"),
    ]
    assert {r["action"]: r["n"] for r in audits} == {
        "alert.raise": 3,
        "alert.escalate": 3,
        "alert.resolve": 1,
    }
    assert len([q for q in statements if q.startswith("UPDATE alerts SET state = 'escalated'")]) == 2

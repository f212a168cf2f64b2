"""Probation liaison's feed written from a consumer's batch, on a real PostgreSQL: an area without a webhook gets
its notices with the batch's other writes, in the order they were given; an area with one gets each notice at
once, with its place in the feed, for the delivery that names it."""

from __future__ import annotations

import asyncpg
import pytest

from dipflow.db.appends import batched_writes
from dipflow.uow import Producer, UnitOfWork
from dipflow_breach.domain.notices import Notice
from dipflow_breach.service_layer import notifications
from dipflow_breach.service_layer.notifications import LIAISON_WEBHOOK

pytestmark = pytest.mark.infra


async def test_a_batchs_notices_and_their_first_deliveries_are_written_with_its_other_writes(
    breach_pool: asyncpg.Pool,
) -> None:
    """Every notice is queued with the batch's other writes, in order, and one for an area with a webhook
    carries its first delivery attempt (naming its seq) in the same statement: the batch reads nothing back."""
    statements: list[str] = []
    async with breach_pool.acquire() as conn:
        async with conn.transaction(), batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("breach", "breach.events.v1"))
            await notifications.set_webhook(uow, "camden", "https://camden.example/hook", "s" * 32)
        async with conn.transaction(), batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("breach", "breach.events.v1"))
            with conn.query_logger(lambda record: statements.append(record.query)):
                for n, area in enumerate(["lambeth", "camden", "lambeth", "camden"]):
                    await notifications.notify(uow, Notice(f"kind-{n}", area, f"P-{n}", {"n": n}))
            assert await conn.fetchval("SELECT count(*) FROM notifications") == 0
        rows = await conn.fetch("SELECT seq, area, kind FROM notifications ORDER BY seq")
        deliveries = await conn.fetch(
            "SELECT subject FROM deadlines WHERE kind = $1 ORDER BY id", LIAISON_WEBHOOK
        )
    assert [(r["area"], r["kind"]) for r in rows] == [
        ("lambeth", "kind-0"),
        ("camden", "kind-1"),
        ("lambeth", "kind-2"),
        ("camden", "kind-3"),
    ]
    camden = [r["seq"] for r in rows if r["area"] == "camden"]
    assert [d["subject"] for d in deliveries] == [f"{seq}:1" for seq in camden]
    assert [q for q in statements if "notifications" in q] == []

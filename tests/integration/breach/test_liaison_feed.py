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


async def test_a_batchs_notices_are_written_with_its_other_writes_unless_their_area_has_a_webhook(
    breach_pool: asyncpg.Pool,
) -> None:
    statements: list[str] = []
    async with breach_pool.acquire() as conn:
        async with conn.transaction(), batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("breach", "breach.events.v1"))
            await notifications.set_webhook(uow, "camden", "https://camden.example/hook", "s" * 32)
        async with conn.transaction(), batched_writes(conn) as writes:
            uow = UnitOfWork(writes, Producer("breach", "breach.events.v1"))
            with conn.query_logger(lambda record: statements.append(record.query)):
                for n, area in enumerate(["lambeth", "camden", "lambeth", "lambeth"]):
                    await notifications.notify(uow, Notice(f"kind-{n}", area, f"P-{n}", {"n": n}))
                assert await conn.fetchval("SELECT count(*) FROM notifications WHERE area = 'lambeth'") == 0
        rows = await conn.fetch("SELECT seq, area, kind FROM notifications ORDER BY seq")
        deliveries = await conn.fetch("SELECT subject FROM deadlines WHERE kind = $1", LIAISON_WEBHOOK)
    assert [(r["area"], r["kind"]) for r in rows if r["area"] == "lambeth"] == [
        ("lambeth", "kind-0"),
        ("lambeth", "kind-2"),
        ("lambeth", "kind-3"),
    ]
    camden = [r["seq"] for r in rows if r["area"] == "camden"]
    assert [d["subject"] for d in deliveries] == [f"{camden[0]}:1"]
    assert len([q for q in statements if "RETURNING seq" in q]) == 1

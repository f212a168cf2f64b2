"""The peer's Temporal worker: the journeys' activities, each one idempotent statement on PostgreSQL.

    python -m bench.temporal_worker --address 127.0.0.1:7233 --dsn postgresql://…

Temporal runs an activity at least once, so every effect is an insert that ignores a row already there or an
update to a fixed value: a retried activity writes nothing twice, as dipflow's inbox does for its consumers.
"""

from __future__ import annotations

import time
from typing import Annotated

import asyncpg
import typer
import uvloop
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.temporal_journeys import TASK_QUEUE, CustodyJourney, Step

SCHEMA = """
CREATE TABLE IF NOT EXISTS detentions (
    detention_id text PRIMARY KEY, person_id text NOT NULL, steps text[] NOT NULL DEFAULT '{}',
    result text, released boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS arrests (detention_id text PRIMARY KEY, person_id text NOT NULL);
CREATE TABLE IF NOT EXISTS bookings (detention_id text PRIMARY KEY, person_id text NOT NULL);
CREATE TABLE IF NOT EXISTS assessments (detention_id text PRIMARY KEY, person_id text NOT NULL,
    state text NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id text PRIMARY KEY, person_id text NOT NULL,
    warned boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS compliance (record_id text PRIMARY KEY, order_id text NOT NULL);
CREATE TABLE IF NOT EXISTS breach_cases (order_id text PRIMARY KEY, person_id text NOT NULL);
"""


class Activities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="book_in")
    async def book_in(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO detentions (detention_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            step.journey.detention_id,
            step.journey.person_id,
        )

    @activity.defn(name="register_arrest")
    async def register_arrest(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO arrests VALUES ($1, $2) ON CONFLICT DO NOTHING",
            step.journey.detention_id,
            step.journey.person_id,
        )

    @activity.defn(name="breach_booking")
    async def breach_booking(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO bookings VALUES ($1, $2) ON CONFLICT DO NOTHING",
            step.journey.detention_id,
            step.journey.person_id,
        )

    @activity.defn(name="detention_step")
    async def detention_step(self, step: Step) -> float:
        """The step recorded once on the detention; returns when (the worker's clock)."""
        at = time.time()
        result = {"positive": "positive", "negative": "negative"}.get(step.journey.kind)
        await self.pool.execute(
            """UPDATE detentions SET steps = CASE WHEN $2 = ANY(steps) THEN steps ELSE steps || $2 END,
                   result = CASE WHEN $2 = 'result' THEN $3 ELSE result END,
                   released = released OR $2 = 'release'
               WHERE detention_id = $1""",
            step.journey.detention_id,
            step.name,
            result,
        )
        return at

    @activity.defn(name="require_assessment")
    async def require_assessment(self, step: Step) -> float:
        await self.pool.execute(
            "INSERT INTO assessments VALUES ($1, $2, 'proposed') ON CONFLICT DO NOTHING",
            step.journey.detention_id,
            step.journey.person_id,
        )
        return time.time()

    @activity.defn(name="lapse_assessment")
    async def lapse_assessment(self, step: Step) -> None:
        await self.pool.execute(
            "UPDATE assessments SET state = 'lapsed' WHERE detention_id = $1", step.journey.detention_id
        )

    @activity.defn(name="make_order")
    async def make_order(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO orders (order_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            step.journey.order_id,
            step.journey.person_id,
        )

    @activity.defn(name="record_compliance")
    async def record_compliance(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO compliance VALUES ($1, $2) ON CONFLICT DO NOTHING",
            f"{step.journey.order_id}-r{step.n}",
            step.journey.order_id,
        )

    @activity.defn(name="warn_order")
    async def warn_order(self, step: Step) -> None:
        await self.pool.execute("UPDATE orders SET warned = true WHERE order_id = $1", step.journey.order_id)

    @activity.defn(name="open_breach")
    async def open_breach(self, step: Step) -> None:
        await self.pool.execute(
            "INSERT INTO breach_cases VALUES ($1, $2) ON CONFLICT DO NOTHING",
            step.journey.order_id,
            step.journey.person_id,
        )


async def serve(address: str, dsn: str, concurrency: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=8)
    await pool.execute(SCHEMA)
    client = await Client.connect(address)
    acts = Activities(pool)
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[CustodyJourney],
        activities=[
            acts.book_in,
            acts.register_arrest,
            acts.breach_booking,
            acts.detention_step,
            acts.require_assessment,
            acts.lapse_assessment,
            acts.make_order,
            acts.record_compliance,
            acts.warn_order,
            acts.open_breach,
        ],
        max_concurrent_activities=concurrency,
        max_concurrent_local_activities=concurrency,
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=concurrency,
    )
    print("worker ready", flush=True)
    await worker.run()


def main(
    address: Annotated[str, typer.Option()],
    dsn: Annotated[str, typer.Option()],
    concurrency: Annotated[int, typer.Option()] = 200,
) -> None:
    uvloop.run(serve(address, dsn, concurrency))


if __name__ == "__main__":
    typer.run(main)

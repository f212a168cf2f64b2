"""Replay rate: a year of a large force's history (bench/history.py) on the custody and referral topics, then
the PPO register's read models rebuilt from it with ``dipflow.events.replay`` (what ``dipflow replay`` runs),
timed from start to the last record.

    python -m bench.replay --detentions 40000
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
import typer
import uvloop
from aiokafka import AIOKafkaProducer
from rich.console import Console

from bench import replay_spec
from bench.history import year_of_history
from bench.infra import BenchInfra, bench_infra
from dipflow.db import apply_migrations, load_migrations
from dipflow.db.database import ensure_database, server_dsn
from dipflow.events.replay import replay
from dipflow.kafka.admin import ensure_topics
from dipflow.kafka.connection import kafka_options
from dipflow.topics import all_topics
from dipflow_ppo_register.replay import SPEC

console = Console()


@dataclass(frozen=True)
class ReplayFigures:
    detentions: int
    events: int
    produce_s: float
    replay_s: float
    applied: int
    skipped: int
    rows: dict[str, int]
    cpu_s: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.replay_s if self.replay_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "events_per_s": round(self.events_per_s, 1)}


async def publish_history(bootstrap: str, detentions: int, prefix: str) -> tuple[int, float]:
    started = time.monotonic()
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap),
        acks="all",
        linger_ms=20,
        max_batch_size=512 * 1024,
        compression_type=None,
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for topic, envelope in year_of_history(detentions):
            pending.append(await producer.send(prefix + topic, envelope.to_bytes(), key=envelope.key))
            count += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count, time.monotonic() - started


async def replay_figures(
    infra: BenchInfra,
    detentions: int,
    database: str = "bench_replay",
    cpu: Callable[[], dict[str, float]] | None = None,
    processes: int | None = None,  # as `dipflow replay` by default
) -> ReplayFigures:
    """Publish the year on topics of its own (``bench.<run>.custody.events.v1``…, so they hold exactly that
    year even beside a running system), then rebuild the register's read models from them."""
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    await ensure_topics(infra.bootstrap, all_topics(prefix))
    dsn = server_dsn(infra.server_dsn, database)
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await apply_migrations(conn, load_migrations("dipflow_ppo_register.migrations"))
    finally:
        await conn.close()
    _, produce_s = await publish_history(infra.bootstrap, detentions, prefix)
    os.environ[replay_spec.PREFIX] = prefix  # read by the replay's worker processes
    cpu_before = cpu() if cpu else {}
    result = await replay(
        "bench.replay_spec:prefixed",
        dsn=dsn,
        bootstrap=infra.bootstrap,
        schema="replay_bench",
        processes=processes,
    )
    cpu_after = cpu() if cpu else {}
    conn = await asyncpg.connect(dsn)
    try:
        rows = {t: await conn.fetchval(f"SELECT count(*) FROM replay_bench.{t}") for t in SPEC.tables}
    finally:
        await conn.close()
    return ReplayFigures(
        detentions,
        result.total,
        produce_s,
        result.seconds,
        result.applied,
        result.skipped,
        rows,
        {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 1) for k in cpu_after},
    )


def main(
    detentions: Annotated[int, typer.Option(help="Detentions in the generated year")] = 40_000,
    processes: Annotated[int | None, typer.Option(help="Replay processes")] = None,
) -> None:
    with bench_infra(durable=True) as infra:
        figures = uvloop.run(replay_figures(infra, detentions, processes=processes))
    console.print(figures.as_dict())


if __name__ == "__main__":
    typer.run(main)

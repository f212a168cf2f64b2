"""A consumer as its own process, so a test can SIGKILL it mid-batch.

Usage: python -m tests.support.consumer_process BOOTSTRAP DSN TOPIC GROUP
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from dipflow.db import connect_pool
from dipflow.events.consumer import ConsumerLimits, EventConsumer
from dipflow.uow import UnitOfWork
from tests.support.events import PRODUCER, REGISTRY, record_effect


async def slow_effect(uow: UnitOfWork, envelope: Any, payload: Any) -> None:
    await record_effect(uow, envelope, payload)
    await asyncio.sleep(0.002)  # make batches last long enough to be killed in the middle


async def main(bootstrap: str, dsn: str, topic: str, group: str) -> None:
    pool = await connect_pool(dsn, min_size=1, max_size=4)
    consumer = EventConsumer(
        bootstrap=bootstrap,
        pool=pool,
        group_id=group,
        topics=[topic],
        registry=REGISTRY,
        handler=slow_effect,
        producer=PRODUCER,
        limits=ConsumerLimits(max_batch=200),
    )
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

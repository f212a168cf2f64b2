"""Lifecycle helpers for aiokafka clients."""

from __future__ import annotations

import asyncio
from typing import Protocol

from dipflow.logging import get_logger

log = get_logger("dipflow.kafka")


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def stop_within(client: Stoppable, timeout_s: float = 10.0) -> None:
    """Stop an aiokafka client, giving up after ``timeout_s``: leaving a consumer group while a rebalance is
    in flight, or flushing to an absent broker, can otherwise wait for ever. Nothing is lost by giving up:
    offsets are committed only after the database commit, and unacknowledged outbox rows stay in the outbox."""
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
    except TimeoutError:
        log.warning("kafka_client_stop_timed_out", client=type(client).__name__, timeout_s=timeout_s)

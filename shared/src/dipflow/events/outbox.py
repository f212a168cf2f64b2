"""Transactional outbox: events are rows written with the state change, published later by the relay
(:mod:`dipflow.events.relay`). A service writes them through its unit of work (:meth:`dipflow.uow.UnitOfWork.emit`);
this module writes envelopes made elsewhere (the backbone's own tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Sequence

from dipflow.db.appends import NOTIFY_CHANNEL, Writes
from dipflow.events.envelope import Envelope

__all__ = ["NOTIFY_CHANNEL", "add_to_outbox"]


async def add_to_outbox(writes: Writes, topic: str, envelopes: Sequence[Envelope]) -> None:
    """Queue ``envelopes`` for ``topic`` inside the caller's transaction; the relay is woken on commit.
    A writer unsure whether its commit landed may write them again: published twice, they are applied once
    (each consumer's inbox)."""
    await writes.outbox([(topic, e.key, e.to_bytes(), e.event_id) for e in envelopes])

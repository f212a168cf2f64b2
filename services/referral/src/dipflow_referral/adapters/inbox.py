"""Live inbox: PostgreSQL NOTIFY (sent in the assigning transaction, delivered on commit, so a stream never shows
an assignment that rolled back) fanned out to each worker's server-sent-event streams. One LISTEN connection per
process; it reconnects after a failure."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from dipflow.events.errors import run_with_restarts
from dipflow.logging import get_logger
from dipflow.uow import UnitOfWork
from dipflow.waking import next_item

log = get_logger("dipflow.referral.stream")
CHANNEL = "referral_inbox"
HEARTBEAT_S = 15.0


async def notify(uow: UnitOfWork, worker_id: str, assessment_id: str, kind: str, at: datetime) -> None:
    """Wake the worker's live streams when this unit of work commits."""
    payload = orjson.dumps(
        {"worker_id": worker_id, "assessment_id": assessment_id, "kind": kind, "at": at.isoformat()}
    )
    await uow.notify(CHANNEL, payload.decode())


class InboxBroadcaster:
    """The process's listener: each worker's open streams get the assignments notified for them."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self.listening = asyncio.Event()

    async def run(self) -> None:
        await run_with_restarts(self._session, event="inbox_listener_restarting", log=log)

    async def _session(self) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            while True:
                await asyncio.sleep(30)
                await conn.execute("SELECT 1")  # notices a dead connection, so the session restarts
        finally:
            self.listening.clear()
            await conn.close(timeout=5)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        message = orjson.loads(payload)
        for queue in list(self._subscribers.get(message.get("worker_id", ""), ())):
            queue.put_nowait(message)

    async def stream(self, worker_id: str) -> AsyncIterator[bytes]:
        """Server-sent events for one worker: ``assignment`` events, and a comment every 15 s to keep the
        connection open through proxies."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers[worker_id].add(queue)
        try:
            yield b": connected\n\n"
            while True:
                message = await next_item(queue, HEARTBEAT_S)
                if message is None:
                    yield b": heartbeat\n\n"
                    continue
                yield b"event: assignment\ndata: " + orjson.dumps(message) + b"\n\n"
        finally:
            self._subscribers[worker_id].discard(queue)
            if not self._subscribers[worker_id]:
                self._subscribers.pop(worker_id, None)

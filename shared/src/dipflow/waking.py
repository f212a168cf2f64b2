"""Waiting to be woken, with a limit, in a loop that must stop when cancelled.

``asyncio.wait_for`` on Python 3.11 swallows a cancellation that arrives in the same turn of the event loop as
the thing it waits for (the waited-for event set by a ``NOTIFY`` just as the service stops): it returns the
result, and the loop around it goes on for ever, marked cancelling. ``asyncio.timeout`` does not."""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


async def woken(wake: asyncio.Event, timeout_s: float) -> bool:
    """Waits for ``wake`` at most ``timeout_s``: True when it was set, False when the time ran out. A
    cancellation always propagates."""
    try:
        async with asyncio.timeout(timeout_s):
            await wake.wait()
    except TimeoutError:
        return False
    return True


async def next_item(queue: asyncio.Queue[T], timeout_s: float) -> T | None:
    """The queue's next item, or None when ``timeout_s`` passed first. A cancellation always propagates."""
    try:
        async with asyncio.timeout(timeout_s):
            return await queue.get()
    except TimeoutError:
        return None

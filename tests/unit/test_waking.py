"""Loops that wait to be woken stop when cancelled, even when the wake-up and the cancellation come in the same
turn of the event loop (a NOTIFY just as the service stops: Python 3.11's ``asyncio.wait_for`` then returned
the wake-up and the relay went on for ever, until the service's stop gave up after 15 s)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dipflow.waking import next_item, woken


async def _stops_when_cancelled_as_it_is_woken(wait: asyncio.Task[None], wake: Callable[[], None]) -> bool:
    await asyncio.sleep(0)  # the loop is waiting
    wake()
    wait.cancel()
    done, _ = await asyncio.wait([wait], timeout=1.0)
    if not done:
        wait.cancel()
    return wait in done and wait.cancelled()


async def test_a_loop_waiting_on_an_event_stops_when_cancelled_in_the_turn_it_is_woken() -> None:
    wake = asyncio.Event()

    async def loop() -> None:
        while True:
            await woken(wake, 5.0)
            wake.clear()

    assert await _stops_when_cancelled_as_it_is_woken(asyncio.create_task(loop()), wake.set)


async def test_a_loop_waiting_on_a_queue_stops_when_cancelled_in_the_turn_an_item_arrives() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def loop() -> None:
        while True:
            await next_item(queue, 5.0)

    assert await _stops_when_cancelled_as_it_is_woken(
        asyncio.create_task(loop()), lambda: queue.put_nowait(1)
    )


async def test_woken_says_whether_it_was_woken_or_the_time_ran_out() -> None:
    wake = asyncio.Event()
    assert await woken(wake, 0.01) is False
    wake.set()
    assert await woken(wake, 5.0) is True
    queue: asyncio.Queue[int] = asyncio.Queue()
    assert await next_item(queue, 0.01) is None
    queue.put_nowait(7)
    assert await next_item(queue, 5.0) == 7

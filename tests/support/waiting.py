"""Waiting for something eventually true (a consumer caught up, a timer fired) without sleeping blind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 45) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and the last answer."""
    last = None
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                last = await check()
                if last:
                    return last
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout_s} s; last {last}") from None

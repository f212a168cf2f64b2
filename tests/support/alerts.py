"""Reading a service's alert feed in integration tests: poll ``GET /v1/alerts`` until the items are as wanted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

Items = list[dict[str, Any]]


async def alert_feed(
    client: httpx.AsyncClient, headers: dict[str, str], want: Callable[[Items], bool], **params: Any
) -> Items:
    """The caller's feed, once ``want`` holds of it (30 s at most)."""
    last: Items = []
    try:
        async with asyncio.timeout(30):
            while True:
                answer = await client.get("/v1/alerts", params=params, headers=headers)
                assert answer.status_code == 200, answer.text
                last = answer.json()["items"]
                if want(last):
                    return last
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"the feed never became as wanted; last {last}") from None

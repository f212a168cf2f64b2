"""Load shedding (dipflow.http.shedding): past its slots a service answers 503 with Retry-After at once, and
the probes and streams are never shed."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from dipflow.http.shedding import ShedMiddleware


def _app(started: asyncio.Event, release: asyncio.Event, queue_wait_s: float = 0.01) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        started.set()
        await release.wait()
        return {"done": "yes"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/inbox/stream")
    async def stream() -> dict[str, str]:
        return {"stream": "open"}

    app.add_middleware(
        ShedMiddleware, service="t", max_in_flight=1, queue_wait_s=queue_wait_s, retry_after_s=2
    )
    return app


async def test_a_request_past_capacity_is_answered_503_with_retry_after_and_the_next_is_served() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    transport = httpx.ASGITransport(app=_app(started, release))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = asyncio.create_task(client.get("/v1/slow"))
        await started.wait()

        shed = await client.get("/v1/slow")
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "2"
        assert shed.headers["content-type"] == "application/problem+json"
        assert shed.json()["type"].endswith("/overloaded")
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/v1/inbox/stream")).status_code == 200

        release.set()
        assert (await first).status_code == 200
        assert (await client.get("/v1/slow")).status_code == 200


async def test_a_request_that_finds_a_slot_freed_while_it_waits_is_served() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    app = _app(started, release, queue_wait_s=5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        first = asyncio.create_task(client.get("/v1/slow"))
        await started.wait()
        second = asyncio.create_task(client.get("/v1/slow"))
        await asyncio.sleep(0.2)  # the second is now waiting for the slot (it may wait up to 5 s)
        assert not second.done()
        release.set()
        assert [(await first).status_code, (await second).status_code] == [200, 200]

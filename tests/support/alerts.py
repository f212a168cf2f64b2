"""Alerts in integration tests: poll a service's ``GET /v1/alerts`` until the items are as wanted, and receive its
signed alert webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from dipflow.devstack import free_port
from dipflow.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

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


@dataclass
class AlertHook:
    """A test's alert webhook receiver: every delivery as received, and whether it was signed with ``secret``."""

    secret: str
    received: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)
    unsigned: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/alerts")
        async def hook(request: Request) -> Response:
            body = await request.body()
            if not signed(self.secret, body, dict(request.headers)):
                self.unsigned += 1
                return Response(status_code=401)
            self.received.append((orjson.loads(body), dict(request.headers)))
            return Response(status_code=204)

        return app

    def about(self, case_id: str) -> dict[str, tuple[str, str, str]]:
        """(event, kind, role) of each delivery about ``case_id``, by delivery id (a retried attempt is the same
        one)."""
        return {
            h["x-dipflow-delivery"]: (p["event"], p["kind"], p["role"])
            for p, h in self.received
            if p["case_id"] == case_id
        }

    async def wait_for(self, case_id: str, n: int) -> list[tuple[str, str, str]]:
        """The deliveries about ``case_id`` once there are ``n`` of them (30 s at most), sorted."""
        try:
            async with asyncio.timeout(30):
                while len(self.about(case_id)) < n:
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"{n} deliveries never came; got {self.about(case_id)}") from None
        return sorted(self.about(case_id).values())


def signed(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    return verify(secret, headers[TIMESTAMP_HEADER], body, headers.get(SIGNATURE_HEADER, ""))


@asynccontextmanager
async def alert_hook(secret: str) -> AsyncIterator[tuple[AlertHook, str]]:
    """A receiver on a real port (it outlives the services a test restarts): the hook and its URL."""
    hook = AlertHook(secret)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(hook.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield hook, f"http://127.0.0.1:{port}/alerts"
    finally:
        server.should_exit = True
        await task

"""Load shedding: a service takes at most ``max_in_flight`` requests at once and answers the rest at once.

A request that finds every slot taken waits at most ``queue_wait_s`` for one; then it is answered 503
problem+json with ``Retry-After``, within milliseconds, instead of queueing for minutes behind work the service
cannot do (nothing of it was started, so a client may send it again as it is). The probes, the metrics and
long-lived streams take no slot: a busy service still answers its orchestrator, and an open stream does not
hold capacity for ever.
"""

from __future__ import annotations

import asyncio
import math

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from dipflow.http.middleware import HttpMiddleware
from dipflow.http.problems import problem_response

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SHED = Counter(
    "dipflow_http_shed_total", "Requests answered 503 because the service was at capacity", ["service"]
)
IN_FLIGHT = Gauge(
    "dipflow_http_in_flight", "Requests being handled now (those that take a slot)", ["service"]
)


def takes_a_slot(scope: Scope) -> bool:
    path: str = scope["path"]
    return path not in EXEMPT_PATHS and not path.endswith("/stream")


class ShedMiddleware(HttpMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_in_flight: int,
        queue_wait_s: float,
        retry_after_s: float,
    ) -> None:
        super().__init__(app)
        self.service = service
        self.slots = asyncio.Semaphore(max_in_flight)
        self.queue_wait_s = queue_wait_s
        self.retry_after = str(max(1, math.ceil(retry_after_s)))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not takes_a_slot(scope):
            await self.app(scope, receive, send)
            return
        try:
            await asyncio.wait_for(self.slots.acquire(), self.queue_wait_s)
        except TimeoutError:
            SHED.labels(self.service).inc()
            await problem_response(
                503,
                "the service is at capacity; nothing of this request was done: send it again after Retry-After",
                kind="overloaded",
                headers={"Retry-After": self.retry_after},
            )(scope, receive, send)
            return
        gauge = IN_FLIGHT.labels(self.service)
        gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            gauge.dec()
            self.slots.release()

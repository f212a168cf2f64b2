"""Load shedding: a service takes only as many requests at once as it can answer in time, and answers the rest
at once.

How many it takes adapts (``AdaptiveLimit``): a request that takes longer than the latency target cuts the
limit in proportion (an answer twice the target halves it; at most once per target), each quick one grows it
by one per limit's worth, between a floor and ``max_in_flight``; by Little's law that holds accepted latency
near the target whatever the machine's speed, and a service that meets a surge of twice what it can take
finds its limit within a few cuts instead of a tenth at a time. A request that finds every slot taken waits
at most ``queue_wait_s`` for one, and one that arrives while the event loop itself runs late (``LoopLag``, on average more than ``max_loop_lag_s``) does not wait at all: it is
answered 503 problem+json with ``Retry-After`` (nothing of it was started, so a client may send it again as it
is). The probes, the metrics and long-lived streams take no slot: a busy service still answers its
orchestrator, and an open stream does not hold capacity for ever.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from dipflow.http.middleware import HttpMiddleware
from dipflow.http.problems import problem_response

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SHED = Counter(
    "dipflow_http_shed_total",
    "Requests answered 503 because the service was at capacity",
    ["service", "reason"],
)
IN_FLIGHT = Gauge(
    "dipflow_http_in_flight", "Requests being handled now (those that take a slot)", ["service"]
)
LIMIT = Gauge("dipflow_http_concurrency_limit", "Requests the service takes at once now", ["service"])
LOOP_LAG = Gauge("dipflow_event_loop_lag_seconds", "How late the event loop last ran a timer", ["service"])


def takes_a_slot(scope: Scope) -> bool:
    path: str = scope["path"]
    return path not in EXEMPT_PATHS and not path.endswith("/stream")


@dataclass
class AdaptiveLimit:
    """Additive increase, multiplicative decrease of the requests taken at once, on each answer's time.

    Guarantees: the limit stays within [floor, ceiling]; an answer slower than ``target_s`` cuts it to
    ``target_s / seconds`` of itself, by a tenth at least and by half at most, but cuts come at most once per
    ``target_s`` (one slow burst is one cut, not one per request in it); an answer within the target raises it
    by ``1 / limit`` (one slot per limit's worth of quick answers)."""

    ceiling: int
    target_s: float
    floor: int = 2
    limit: float = field(init=False)
    _last_cut: float = field(init=False, default=-math.inf)

    def __post_init__(self) -> None:
        self.floor = min(self.floor, self.ceiling)
        self.limit = float(self.ceiling)

    @property
    def allowed(self) -> int:
        return int(self.limit)

    def answered(self, seconds: float, now: float) -> None:
        if seconds > self.target_s:
            if now - self._last_cut >= self.target_s:
                factor = min(0.9, max(0.5, self.target_s / seconds))
                self.limit = max(float(self.floor), self.limit * factor)
                self._last_cut = now
        else:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)


class LoopLag:
    """How late the running event loop wakes a timer, smoothed: sampled every ``interval_s`` by a task of its
    own (started with the first request), ``late_s`` is the exponentially weighted mean of the samples
    (weight ``alpha`` for the newest). A loop that runs late sample after sample drives it up; one stall (a
    collector pass, a large batch) moves it by only ``alpha`` of its length."""

    def __init__(self, interval_s: float = 0.025, alpha: float = 0.1) -> None:
        self.interval_s = interval_s
        self.alpha = alpha
        self.late_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def watch(self, gauge: Gauge) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sample(gauge))

    async def _sample(self, gauge: Gauge) -> None:
        while True:
            due = time.perf_counter() + self.interval_s
            await asyncio.sleep(self.interval_s)
            late = max(0.0, time.perf_counter() - due)
            self.late_s += self.alpha * (late - self.late_s)
            gauge.set(self.late_s)


class ShedMiddleware(HttpMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_in_flight: int,
        queue_wait_s: float,
        retry_after_s: float,
        latency_target_s: float = 0.25,
        max_loop_lag_s: float = 0.1,
    ) -> None:
        super().__init__(app)
        self.service = service
        self.limit = AdaptiveLimit(max_in_flight, latency_target_s)
        self.queue_wait_s = queue_wait_s
        self.max_loop_lag_s = max_loop_lag_s
        self.retry_after = str(max(1, math.ceil(retry_after_s)))
        self.in_flight = 0
        self.waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self.lag = LoopLag()
        self._in_flight_gauge = IN_FLIGHT.labels(service)
        self._limit_gauge = LIMIT.labels(service)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not takes_a_slot(scope):
            await self.app(scope, receive, send)
            return
        self.lag.watch(LOOP_LAG.labels(self.service))
        refused = await self._admit()
        if refused is not None:
            SHED.labels(self.service, refused).inc()
            await problem_response(
                503,
                "the service is at capacity; nothing of this request was done: send it again after Retry-After",
                kind="overloaded",
                headers={"Retry-After": self.retry_after},
            )(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            ended = time.perf_counter()
            self.limit.answered(ended - started, ended)
            self._release()

    async def _admit(self) -> str | None:
        """None when the request took a slot; else why it is shed (``loop-lag`` or ``no-slot``)."""
        if self.lag.late_s > self.max_loop_lag_s:
            return "loop-lag"
        if self.in_flight < self.limit.allowed and not self.waiting:
            self._take()
            return None
        if self.queue_wait_s <= 0:  # not even one turn of the event loop (20-30 ms on a saturated machine)
            return "no-slot"
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=self.queue_wait_s)
        except BaseException:  # the request itself was cancelled while it waited
            if waiter.done():
                self._release()  # the slot it was handed
            else:
                self._give_up(waiter)
            raise
        if not waiter.done():
            self._give_up(waiter)
            return "no-slot"
        return None

    def _give_up(self, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        self.waiting.remove(waiter)

    def _take(self) -> None:
        self.in_flight += 1
        self._in_flight_gauge.set(self.in_flight)
        self._limit_gauge.set(self.limit.allowed)

    def _release(self) -> None:
        self.in_flight -= 1
        self._in_flight_gauge.set(self.in_flight)
        while self.waiting and self.in_flight < self.limit.allowed:
            waiter = self.waiting.popleft()
            waiter.set_result(None)  # every waiter in the queue still waits: one that gave up left it
            self._take()

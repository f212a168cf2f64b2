"""Load shedding (dipflow.http.shedding): past its slots a service answers 503 with Retry-After at once, and
the probes and streams are never shed."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from dipflow.http.shedding import AdaptiveLimit, ShedMiddleware


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


def test_with_no_queue_wait_a_request_past_capacity_is_shed_without_yielding_to_the_event_loop() -> None:
    """No wait for a slot means none at all: the decision comes back without a turn of the event loop (which
    is what a shed answer waits for on a saturated machine)."""
    shed = ShedMiddleware(FastAPI(), service="t", max_in_flight=1, queue_wait_s=0, retry_after_s=1)
    shed._take()  # the one slot is busy
    admitting = shed._admit()
    try:
        admitting.send(None)
    except StopIteration as done:
        assert done.value == "no-slot"
    else:
        admitting.close()
        raise AssertionError("the request waited for a turn of the event loop")


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


def test_slow_answers_cut_the_limit_in_proportion_at_most_once_per_target_and_quick_ones_raise_it() -> None:
    limit = AdaptiveLimit(ceiling=64, target_s=0.25)
    limit.answered(0.26, now=10.0)
    assert limit.allowed == 57  # only just slow: a tenth, the least cut
    limit.answered(0.9, now=10.1)  # the same slow burst: no second cut within the target
    assert limit.allowed == 57
    limit.answered(0.5, now=10.3)  # twice the target: halved
    assert limit.allowed == 28
    limit.answered(0.3125, now=10.6)  # 1.25 times the target: to 0.8 of it
    assert limit.allowed == 23
    limit.answered(10.0, now=10.9)  # forty times the target: halved, no more
    assert limit.allowed == 11
    for _ in range(200):
        limit.answered(0.01, now=11.0)
    assert limit.allowed == 23  # 11.5 + about one slot per limit's worth of 200 quick answers
    for n in range(500):
        limit.answered(2.0, now=20.0 + n)
    assert limit.allowed == 2  # the floor
    for _ in range(10_000):
        limit.answered(0.01, now=1000.0)
    assert limit.allowed == 64  # never above the ceiling


def test_a_surge_far_over_the_target_finds_a_small_limit_in_a_few_cuts() -> None:
    limit = AdaptiveLimit(ceiling=64, target_s=0.25)
    for n in range(4):
        limit.answered(2.5, now=10.0 + 0.25 * n)
    assert limit.allowed == 4  # 64 halved four times; by tenths it would still be 41


async def test_slow_answers_lower_the_requests_taken_at_once() -> None:
    app = FastAPI()

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.06)
        return {"done": "yes"}

    shed = ShedMiddleware(
        app, service="t-adapt", max_in_flight=8, queue_wait_s=0, retry_after_s=1, latency_target_s=0.05
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shed), base_url="http://t") as client:
        for _ in range(5):
            assert (await client.get("/v1/slow")).status_code == 200
            await asyncio.sleep(0.06)
        allowed = shed.limit.allowed
        assert (
            2 <= allowed <= 4
        )  # five slow answers (60 ms and more against 50), each cutting by a sixth or more
        answers = await asyncio.gather(*(client.get("/v1/slow") for _ in range(8)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == allowed and statuses.count(503) == 8 - allowed


async def test_one_stall_sheds_nothing_but_a_loop_late_sample_after_sample_sheds_at_once_until_it_recovers() -> (
    None
):
    app = FastAPI()

    @app.get("/v1/block")
    async def block() -> dict[str, str]:
        time.sleep(0.3)  # noqa: ASYNC251 - one stall of the event loop (a collector pass, a large batch)
        return {"done": "yes"}

    @app.get("/v1/quick")
    async def quick() -> dict[str, str]:
        return {"done": "yes"}

    async def busy_loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            time.sleep(0.15)  # noqa: ASYNC251 - CPU-bound work past capacity, turn after turn
            await asyncio.sleep(0)

    shed = ShedMiddleware(
        app, service="t-lag", max_in_flight=64, queue_wait_s=1, retry_after_s=1, max_loop_lag_s=0.1
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shed), base_url="http://t") as client:
        assert (await client.get("/v1/quick")).status_code == 200
        await asyncio.sleep(0.05)  # the lag sampler is running
        assert (await client.get("/v1/block")).status_code == 200
        await asyncio.sleep(0.01)  # the sampler, due during the stall, woke 0.3 s late
        assert (await client.get("/v1/quick")).status_code == 200

        stop = asyncio.Event()
        busy = asyncio.create_task(busy_loop(stop))
        await asyncio.sleep(3)  # about 20 late samples
        started = time.perf_counter()
        late = await client.get("/v1/quick")
        stop.set()
        await busy
        assert late.status_code == 503 and late.headers["retry-after"] == "1"
        assert time.perf_counter() - started < 0.5  # at once, not after the 1 s queue wait
        await asyncio.sleep(1)  # samples on time bring the mean down
        assert (await client.get("/v1/quick")).status_code == 200

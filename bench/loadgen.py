"""The load generator of ``bench.load``: an open-loop HTTP client, run as its own process.

    python -m bench.loadgen CONFIG.json RESULT.json

Requests are started at fixed intervals (``1 / rate``) whatever the answers do, so a slow service shows up
as latency (measured from the time the request was *due*), never as a lower rate. The mix is what the
custody suites, referral workers and managers, PPO coordinators, probation liaison and police send: journeys
(book-in → warning → sample → result; required assessment imposed → attendance; DRR order → absence →
absence) advance one step per request, each step only after the previous answer, and reads look at what the
writes made. Prints one JSON line a second on stdout (progress) and writes RESULT.json at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

from dipflow.auth import Role, mint_token

# (suite, the area it serves, whether that area is notified for required assessments)
SUITES = (
    ("MET-BRIXTON", "lambeth", True),
    ("MET-CAMDEN", "camden", True),
    ("MET-CHARING-CROSS", "westminster", False),
)
BOROUGHS = ("lambeth", "camden")  # PPO register and DRR orders
OFFENCES = ("TA1968-s1", "TA1968-s9", "TA1968-s8")  # trigger offences (no inspector needed)
DRUGS = ("cocaine", "opiates")
WINDOW_S = 5.0
BLOCK_S = 30.0  # the time series of the report
KEEP_ERROR_BODIES = 20
REGISTER_SETTLES_S = 5.0
CONNECTIONS = 32  # per service
END_GRACE_S = 60.0  # after the last request, how long the answers may take beyond the timeout

# op: (service, weight, write?, group). Writes 40 %, reads 60 %; the measures are dashboards, seldom read.
OPS: dict[str, tuple[str, float, bool, str]] = {
    "book_in": ("custody", 8, True, "custody writes"),
    "warning": ("custody", 7, True, "custody writes"),
    "sample": ("custody", 7, True, "custody writes"),
    "result": ("custody", 7, True, "custody writes"),
    "impose": ("referral", 3, True, "referral writes"),
    "attendance": ("referral", 3, True, "referral writes"),
    "ppo_add": ("ppo-register", 1.5, True, "ppo-register writes"),
    "order": ("breach", 1.2, True, "breach writes"),
    "compliance": ("breach", 2.3, True, "breach writes"),
    "detention": ("custody", 16, False, "custody reads"),
    "ppo_status": ("custody", 8, False, "custody reads"),
    "inbox": ("referral", 8, False, "referral reads"),
    "assessments_proposed": ("referral", 6, False, "referral reads"),
    "assessments": ("referral", 2, False, "referral reads"),
    "tested_positive": ("ppo-register", 5, False, "ppo-register reads"),
    "breach_cases": ("breach", 4, False, "breach reads"),
    "order_read": ("breach", 5, False, "breach reads"),
    "arrest_requests": ("breach", 4, False, "breach reads"),
    "k1": ("ppo-register", 0.5, False, "measures (K1-K4)"),
    "k2": ("ppo-register", 0.5, False, "measures (K1-K4)"),
    "k3": ("breach", 0.5, False, "measures (K1-K4)"),
    "k4": ("referral", 0.5, False, "measures (K1-K4)"),
}
# A step with nothing waiting for it: the step before in the same journey (in the end a new journey).
FALLBACK = {
    "impose": "result",
    "attendance": "result",
    "result": "sample",
    "sample": "warning",
    "warning": "book_in",
    "compliance": "order",
    "detention": "ppo_status",
    "ppo_status": "book_in",
    "order_read": "breach_cases",
}


@dataclass
class Config:
    urls: dict[str, str]  # service name → base URL
    secret: str
    tag: str  # person ids are L-<tag>-..., order ids DRR-<tag>-...
    workers: list[dict[str, str]]  # worker_id, area
    rate: float = 200.0
    duration_s: float = 300.0
    warmup_s: float = 10.0  # at half the rate, before the measured run; errors in it count, latency not
    seed: int = 2008
    persons_per_area: int = 100
    timeout_s: float = 30.0
    connections: int = 32  # per service; more than a service's slots (64) lets it shed instead of us queueing


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read whole."""

    status_code: int
    headers: Mapping[str, str]  # aiohttp's, case-insensitive
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


@dataclass
class Call:
    op: str
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    params: dict[str, str] | None = None
    expect: int = 200
    on_ok: Callable[[Answer], None] | None = None


@dataclass
class Created:
    """What the answered writes made: the reconciliation's expectations."""

    booked: list[str] = field(default_factory=list)
    positives: list[dict[str, Any]] = field(default_factory=list)  # detention_id, suite, notified
    negatives: int = 0
    imposed: int = 0
    attended: int = 0
    failed_to_attend: list[str] = field(default_factory=list)  # assessment ids
    ppo_people: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    warnings: int = 0
    breaches: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)  # writes that timed out or lost their connection


class Journeys:
    """The generator's picture of the world: whose next step can be sent now (one request at a time each)."""

    def __init__(self, cfg: Config, rng: random.Random) -> None:
        self.cfg, self.rng = cfg, rng
        self.persons = {
            area: [f"L-{cfg.tag}-{area[:3].upper()}{n}" for n in range(cfg.persons_per_area)]
            for _, area, _ in SUITES
        }
        self.booked: deque[str] = deque()
        self.registered_at: dict[str, float] = {}  # person → when the register took them
        self.detained_people: list[
            str
        ] = []  # custody may tell the PPO status of people detained at its suites
        self.warned: deque[str] = deque()
        self.sampled: deque[tuple[str, str, bool]] = deque()  # detention_id, suite, notified
        self.suite_of: dict[str, tuple[str, bool]] = {}
        self.detentions: list[str] = []
        self.to_impose: deque[tuple[str, str]] = deque()  # assessment_id, area
        self.to_attend: deque[tuple[str, str]] = deque()
        self.seen_assessments: set[str] = set()
        self.new_orders: deque[tuple[str, str]] = deque()  # order_id, area
        self.warned_orders: deque[tuple[str, str]] = deque()
        self.orders: list[tuple[str, str]] = []
        self.created = Created()
        self._tokens: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._ppo_n = 0
        self._order_n = 0

    def auth(self, role: Role, area: str, worker_id: str | None = None) -> dict[str, str]:
        key = (str(role), area, worker_id)
        if key not in self._tokens:
            token = mint_token(
                self.cfg.secret,
                subject=f"load-{role}-{worker_id or area}",
                role=role,
                area=area,
                worker_id=worker_id,
                ttl_s=24 * 3600,
            )
            self._tokens[key] = {"Authorization": f"Bearer {token}"}
        return self._tokens[key]

    def url(self, service: str, path: str) -> str:
        return self.cfg.urls[service] + path

    # -- choosing -------------------------------------------------------------------------------------------

    def next_call(self, op: str) -> Call:
        """The call for ``op``, or for the step before it when nothing is waiting for ``op``."""
        call: Call | None = getattr(self, f"_{op}")()
        return call if call is not None else self.next_call(FALLBACK[op])

    # -- writes ---------------------------------------------------------------------------------------------

    def _book_in(self) -> Call:
        suite, area, notified = self.rng.choice(SUITES)
        created = self.created
        if created.ppo_people and self.rng.random() < 0.1:
            person = self.rng.choice(created.ppo_people)
        else:
            person = self.rng.choice(self.persons[area])
        arrested = datetime.now(UTC) - timedelta(minutes=self.rng.randrange(20, 90))
        body = {
            "person_id": person,
            "name": "Load Person",
            "date_of_birth": f"19{self.rng.randrange(60, 99)}-05-05",
            "home_area": area,
            "suite": suite,
            "arrested_at": arrested.isoformat(),
            "offences": [{"code": self.rng.choice(OFFENCES), "offence_date": arrested.date().isoformat()}],
        }

        def ok(answer: Answer) -> None:
            did = answer.json()["detention_id"]
            self.detained_people.append(person)
            self.suite_of[did] = (suite, notified)
            self.booked.append(did)
            self.detentions.append(did)
            created.booked.append(did)

        officer = self.auth(Role.custody_officer, "metropolitan")
        return Call(
            "book_in", "POST", self.url("custody", "/v1/detentions"), officer, body, expect=201, on_ok=ok
        )

    def _action(
        self, op: str, queue: deque[Any], action: str, body: dict[str, Any], ok: Callable[[Any], None]
    ) -> Call | None:
        if not queue:
            return None
        item = queue.popleft()
        did = item if isinstance(item, str) else item[0]
        return Call(
            op,
            "POST",
            self.url("custody", f"/v1/detentions/{did}/{action}"),
            self.auth(Role.custody_officer, "metropolitan"),
            body,
            on_ok=lambda _: ok(item),
        )

    def _warning(self) -> Call | None:
        return self._action("warning", self.booked, "warning", {}, self.warned.append)

    def _sample(self) -> Call | None:
        def ok(did: str) -> None:
            self.sampled.append((did, *self.suite_of[did]))

        return self._action("sample", self.warned, "sample", {}, ok)

    def _result(self) -> Call | None:
        positive = self.rng.random() < 0.6
        drug = self.rng.choice(DRUGS)

        def ok(item: tuple[str, str, bool]) -> None:
            did, suite, notified = item
            if positive:
                self.created.positives.append({"detention_id": did, "suite": suite, "notified": notified})
            else:
                self.created.negatives += 1

        body = {"drug": drug, "result": "positive" if positive else "negative"}
        return self._action("result", self.sampled, "results", body, ok)

    def _impose(self) -> Call | None:
        if not self.to_impose:
            return None
        item = self.to_impose.popleft()

        def ok(_: Answer) -> None:
            self.created.imposed += 1
            self.to_attend.append(item)

        return Call(
            "impose",
            "POST",
            self.url("referral", f"/v1/assessments/{item[0]}/impose"),
            self.auth(Role.custody_officer, "metropolitan"),
            {},
            on_ok=ok,
        )

    def _attendance(self) -> Call | None:
        if not self.to_attend:
            return None
        item = self.to_attend.popleft()
        outcome = "attended" if self.rng.random() < 0.85 else "failed_to_attend"

        def ok(_: Answer) -> None:
            if outcome == "attended":
                self.created.attended += 1
            else:
                self.created.failed_to_attend.append(item[0])

        return Call(
            "attendance",
            "POST",
            self.url("referral", f"/v1/assessments/{item[0]}/attendance"),
            self.auth(Role.referral_manager, item[1]),
            {"outcome": outcome},
            on_ok=ok,
        )

    def _ppo_add(self) -> Call:
        self._ppo_n += 1
        person, borough = f"L-{self.cfg.tag}-P{self._ppo_n}", self.rng.choice(BOROUGHS)
        start = (datetime.now(UTC) - timedelta(days=self.rng.randrange(1, 300))).date()
        body = {
            "person_id": person,
            "borough": borough,
            "strand": self.rng.choice(
                ["catch_and_convict", "prevent_and_deter", "rehabilitate_and_resettle"]
            ),
            "start_date": start.isoformat(),
            "reason": "selected at the partnership panel",
        }
        return Call(
            "ppo_add",
            "POST",
            self.url("ppo-register", "/v1/register"),
            self.auth(Role.ppo_coordinator, borough),
            body,
            expect=201,
            on_ok=lambda _: self._registered(person),
        )

    def _order(self) -> Call:
        self._order_n += 1
        area = self.rng.choice(BOROUGHS)
        order_id, person = f"DRR-{self.cfg.tag}-{self._order_n}", self.rng.choice(self.persons[area])
        body = {
            "person_id": person,
            "order_id": order_id,
            "area": area,
            "court": "Camberwell Green",
            "start_date": "2008-01-14",
            "treatment_months": 24,
            "responsible_officer": "PO Load",
        }

        def ok(_: Answer) -> None:
            self.created.orders.append(order_id)
            self.orders.append((order_id, area))
            self.new_orders.append((order_id, area))

        return Call(
            "order",
            "POST",
            self.url("breach", "/v1/orders"),
            self.auth(Role.probation_liaison, area),
            body,
            expect=201,
            on_ok=ok,
        )

    def _compliance(self) -> Call | None:
        """The first unacceptable absence gives a warning, the second a breach (D1-D4)."""
        second = bool(self.warned_orders) and (not self.new_orders or self.rng.random() < 0.5)
        queue = self.warned_orders if second else self.new_orders
        if not queue:
            return None
        item = queue.popleft()
        on = date(2008, 6, 2) if second else date(2008, 3, 3)

        def ok(answer: Answer) -> None:
            decision = answer.json()["decision"]
            self.created.decisions[decision] = self.created.decisions.get(decision, 0) + 1
            if decision == "warning":
                self.created.warnings += 1
            if decision == "breach":
                self.created.breaches += 1
            if not second:
                self.warned_orders.append(item)

        return Call(
            "compliance",
            "POST",
            self.url("breach", f"/v1/orders/{item[0]}/compliance"),
            self.auth(Role.probation_liaison, item[1]),
            {"kind": "unacceptable_absence", "on": on.isoformat()},
            on_ok=ok,
        )

    # -- reads ----------------------------------------------------------------------------------------------

    def _get(
        self,
        op: str,
        service: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        on_ok: Callable[[Answer], None] | None = None,
    ) -> Call:
        return Call(op, "GET", self.url(service, path), headers, params=params, on_ok=on_ok)

    def _detention(self) -> Call | None:
        if not self.detentions:
            return None
        did = self.rng.choice(self.detentions[-2000:])
        return self._get(
            "detention", "custody", f"/v1/detentions/{did}", self.auth(Role.custody_officer, "metropolitan")
        )

    def _registered(self, person: str) -> None:
        self.created.ppo_people.append(person)
        self.registered_at[person] = time.perf_counter()

    def _ppo_status(self) -> Call | None:
        """A person custody may ask about (since #20): on the force's register, or detained at its suites; asking
        about anyone else is a 403 by design. Custody learns of the register over Kafka, so a person is asked
        about only a few seconds after the register took them."""
        settled = time.perf_counter() - REGISTER_SETTLES_S
        people = [p for p in self.created.ppo_people if self.registered_at.get(p, settled) <= settled]
        if people and self.rng.random() < 0.3:
            person = self.rng.choice(people)
        elif self.detained_people:
            person = self.rng.choice(self.detained_people)
        else:
            return None
        return self._get(
            "ppo_status",
            "custody",
            f"/v1/ppo-status/{person}",
            self.auth(Role.custody_officer, "metropolitan"),
        )

    def _inbox(self) -> Call:
        worker = self.rng.choice(self.cfg.workers)
        return self._get(
            "inbox",
            "referral",
            "/v1/inbox",
            self.auth(Role.referral_worker, worker["area"], worker["worker_id"]),
        )

    def _assessments_proposed(self) -> Call:
        area = self.rng.choice(BOROUGHS)

        def found(answer: Answer) -> None:
            for row in answer.json():
                aid = row["assessment_id"]
                if row["status"] == "proposed" and aid not in self.seen_assessments:
                    self.seen_assessments.add(aid)
                    self.to_impose.append((aid, row["area"]))

        return self._get(
            "assessments_proposed",
            "referral",
            "/v1/assessments",
            self.auth(Role.referral_manager, area),
            {"area": area, "status": "proposed"},
            found,
        )

    def _assessments(self) -> Call:
        area = self.rng.choice(BOROUGHS)
        return self._get(
            "assessments",
            "referral",
            "/v1/assessments",
            self.auth(Role.referral_manager, area),
            {"area": area},
        )

    def _tested_positive(self) -> Call:
        borough = self.rng.choice(BOROUGHS)
        return self._get(
            "tested_positive",
            "ppo-register",
            "/v1/tested-positive",
            self.auth(Role.ppo_coordinator, borough),
            {"borough": borough},
        )

    def _breach_cases(self) -> Call:
        area = self.rng.choice(BOROUGHS)
        return self._get(
            "breach_cases",
            "breach",
            "/v1/breach-cases",
            self.auth(Role.probation_liaison, area),
            {"area": area},
        )

    def _order_read(self) -> Call | None:
        if not self.orders:
            return None
        order_id, area = self.rng.choice(self.orders[-1000:])
        return self._get(
            "order_read", "breach", f"/v1/orders/{order_id}", self.auth(Role.probation_liaison, area)
        )

    def _arrest_requests(self) -> Call:
        area = self.rng.choice(BOROUGHS)
        return self._get(
            "arrest_requests",
            "breach",
            "/v1/arrest-requests",
            self.auth(Role.police_enforcement, area),
            {"area": area, "open": "true"},
        )

    def _measure(self, op: str, service: str) -> Call:
        return self._get(op, service, f"/v1/measures/{op}", self.auth(Role.analyst, "*"))

    def _k1(self) -> Call:
        return self._measure("k1", "ppo-register")

    def _k2(self) -> Call:
        return self._measure("k2", "ppo-register")

    def _k3(self) -> Call:
        return self._measure("k3", "breach")

    def _k4(self) -> Call:
        return self._measure("k4", "referral")


@dataclass
class Sample:
    op: str
    due: float  # seconds after the start the request was due
    status: int  # HTTP status; 0 = transport error, -1 = timeout
    latency_ms: float  # from when it was due to the end of the answer
    ok: bool
    shed: bool = False  # answered 503 with Retry-After: the service was at capacity and did nothing of it
    exchange_ms: float = 0.0  # from sending (a connection free) to the end of the answer


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


class Generator:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)  # noqa: S311 - a reproducible mix, not a secret
        self.world = Journeys(cfg, self.rng)
        self.samples: list[Sample] = []
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.inflight = 0
        self.sent = 0
        self.ops = list(OPS)
        self.weights = [OPS[o][1] for o in self.ops]
        self.max_start_lag_s = 0.0
        self.loop_lags_ms: list[float] = []

    async def run(self) -> dict[str, Any]:
        # Keep-alive connections, at most CONNECTIONS a service; requests beyond that wait on a semaphore (the
        # wait is latency: the request was due). An idle connection is dropped after 3 s, before uvicorn's
        # keep-alive timeout (5 s) closes it: a request sent on a connection the server is closing fails.
        # aiohttp rather than httpx: on the two cores it shares with the system it measures, httpx used more
        # CPU than any one service (bench_harness_cores in the report: 0.39 of a core at 84/s, 0.17 now).
        connections = self.cfg.connections
        clients = {
            name: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=3.0),
                timeout=aiohttp.ClientTimeout(total=None),
                json_serialize=lambda value: orjson.dumps(value).decode(),
                skip_auto_headers=("User-Agent",),
            )
            for name in self.cfg.urls
        }
        self.gates = {name: asyncio.Semaphore(connections) for name in self.cfg.urls}
        tasks: dict[asyncio.Task[None], tuple[Call, float]] = {}
        warmup = self.cfg.warmup_s
        # warm-up at half the rate (due before 0), then the measured run at the full rate (due from 0)
        dues = [k * 2 / self.cfg.rate - warmup for k in range(int(warmup * self.cfg.rate / 2))]
        dues += [i / self.cfg.rate for i in range(int(self.cfg.rate * self.cfg.duration_s))]
        started_wall = datetime.now(UTC) + timedelta(seconds=warmup)
        self.t0 = time.perf_counter() + warmup
        reporter = asyncio.create_task(self._report())
        lag_sampler = asyncio.create_task(self._sample_loop_lag())
        try:
            for due in dues:
                wait = due - (time.perf_counter() - self.t0)
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    self.max_start_lag_s = max(self.max_start_lag_s, -wait)
                op = self.rng.choices(self.ops, self.weights)[0]
                call = self.world.next_call(op)
                self.sent += 1
                task = asyncio.create_task(self._send(clients, call, due))
                tasks[task] = (call, due)
                task.add_done_callback(tasks.pop)
            sent_s = time.perf_counter() - self.t0 + 1 / self.cfg.rate  # the last request's interval too
            if tasks:
                await asyncio.wait(list(tasks), timeout=self.cfg.timeout_s + END_GRACE_S)
            late = list(tasks.items())  # still waiting for a connection, or for an answer
            for task, (call, due) in late:
                task.cancel()
                self._record(call, due, -1, "no answer by the end of the run", time.perf_counter())
            await asyncio.gather(*(task for task, _ in late), return_exceptions=True)
        finally:
            reporter.cancel()
            lag_sampler.cancel()
            for session in clients.values():
                await session.close()
        return self._result(started_wall, sent_s)

    async def _send(self, clients: dict[str, aiohttp.ClientSession], call: Call, due: float) -> None:
        self.inflight += 1
        service = OPS[call.op][0]
        sending = time.perf_counter()
        body: Answer | str
        try:
            # The timeout is for the exchange, from when a connection is free: the wait for one is latency (the
            # request was due earlier), not a failure. Were the wait under the timeout too, a backlog longer
            # than the timeout would only send requests that have already run out of time: nothing would
            # succeed again, however fast the service became.
            async with self.gates[service], asyncio.timeout(self.cfg.timeout_s):
                sending = time.perf_counter()
                async with clients[service].request(
                    call.method, call.url, headers=call.headers, json=call.json, params=call.params
                ) as response:
                    body = Answer(response.status, response.headers, await response.read())
            status = body.status_code
        except TimeoutError as exc:
            status, body = -1, f"timeout after {self.cfg.timeout_s:.0f}s: {type(exc).__name__}"
        except aiohttp.ClientError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        finally:
            self.inflight -= 1
        ended = time.perf_counter()
        if status == 503 and isinstance(body, Answer) and "Retry-After" in body.headers:
            self._record(call, due, status, None, ended, shed=True, exchange_ms=(ended - sending) * 1000)
            return
        if status == call.expect and isinstance(body, Answer):
            try:
                if call.on_ok:
                    call.on_ok(body)
            except Exception as exc:  # a 2xx with an unexpected body is an error too
                self._record(call, due, status, f"bad body: {exc!r}: {body.text[:300]}", ended)
                return
            self._record(call, due, status, None, ended)
            return
        if status <= 0 and OPS[call.op][2]:  # a write whose outcome is unknown: it may have been applied
            self.world.created.unknown[call.op] = self.world.created.unknown.get(call.op, 0) + 1
        text = body.text[:500] if isinstance(body, Answer) else body
        self._record(call, due, status, text, ended)

    def _record(
        self,
        call: Call,
        due: float,
        status: int,
        error: str | None,
        ended: float,
        *,
        shed: bool = False,
        exchange_ms: float = 0.0,
    ) -> None:
        latency_ms = (ended - self.t0 - due) * 1000
        self.samples.append(
            Sample(call.op, due, status, latency_ms, error is None and not shed, shed, exchange_ms)
        )
        if error is not None:
            self.error_count += 1
            if len(self.errors) < KEEP_ERROR_BODIES:
                self.errors.append(
                    {
                        "op": call.op,
                        "method": call.method,
                        "url": call.url,
                        "status": status,
                        "at_s": round(due, 2),
                        "body": error,
                    }
                )

    async def _sample_loop_lag(self) -> None:
        """How late the generator's own loop wakes (its share of any latency it reports)."""
        while True:
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            self.loop_lags_ms.append(max(0.0, time.perf_counter() - due) * 1000)

    async def _report(self) -> None:
        last = 0
        while True:
            recent = [s.latency_ms for s in self.samples[last:]]
            last = len(self.samples)
            line = {
                "t": round(time.perf_counter() - self.t0, 2),
                "sent": self.sent,
                "done": len(self.samples),
                "inflight": self.inflight,
                "errors": self.error_count,
                "p95_ms": round(percentiles(recent).get("p95", 0.0), 1),
            }
            print(json.dumps(line), flush=True)
            await asyncio.sleep(1.0)

    def _windows(self, measured: list[Sample], width: float) -> list[dict[str, Any]]:
        """Per ``width`` seconds: requests due and answered, errors and latency of the requests due then."""
        n = math.ceil(self.cfg.duration_s / width)
        due_in: list[list[Sample]] = [[] for _ in range(n)]
        answered = [0] * (n + 1)
        for s in measured:
            due_in[min(int(s.due // width), n - 1)].append(s)
            if s.status > 0:
                answered[min(int((s.due + s.latency_ms / 1000) // width), n)] += 1
        windows = []
        for w, inside in enumerate(due_in):
            spread = percentiles([s.latency_ms for s in inside])
            span = min(width, self.cfg.duration_s - w * width)  # the last one may be shorter
            windows.append(
                {
                    "from_s": w * width,
                    "to_s": w * width + span,
                    "sent": len(inside),
                    "answered": answered[w],
                    "sent_per_s": len(inside) / span,
                    "answered_per_s": answered[w] / span,
                    "errors": sum(1 for s in inside if not s.ok and not s.shed),
                    "shed": sum(1 for s in inside if s.shed),
                    "p50_ms": spread.get("p50"),
                    "p95_ms": spread.get("p95"),
                    "p99_ms": spread.get("p99"),
                }
            )
        return windows

    def _result(self, started: datetime, sent_s: float) -> dict[str, Any]:
        """Figures of the measured run (requests due from 0); the warm-up's requests only as counts."""
        measured = [s for s in self.samples if s.due >= 0]
        warmup = [s for s in self.samples if s.due < 0]
        by_op: dict[str, list[Sample]] = {}
        groups: dict[str, list[float]] = {}
        for s in measured:
            by_op.setdefault(s.op, []).append(s)
            groups.setdefault(OPS[s.op][3], []).append(s.latency_ms)
        ops = {}
        for op, samples in sorted(by_op.items()):
            service, _, write, group = OPS[op]
            ops[op] = {
                "service": service,
                "group": group,
                "write": write,
                "count": len(samples),
                "errors": sum(1 for s in samples if not s.ok and not s.shed),
                "shed": sum(1 for s in samples if s.shed),
                "statuses": dict(Counter(str(s.status) for s in samples)),
                "latency_ms": percentiles([s.latency_ms for s in samples]),
            }
        in_run = sum(1 for s in measured if s.status > 0 and s.due + s.latency_ms / 1000 <= sent_s)
        writes = sum(1 for s in measured if OPS[s.op][2])
        return {
            "started_at": started.isoformat(timespec="seconds"),
            "rate_target": self.cfg.rate,
            "duration_s": self.cfg.duration_s,
            "warmup": {
                "seconds": self.cfg.warmup_s,
                "rate": self.cfg.rate / 2,
                "sent": len(warmup),
                "errors": sum(1 for s in warmup if not s.ok and not s.shed),
                "latency_ms": percentiles([s.latency_ms for s in warmup]),
            },
            "sending_s": round(sent_s, 3),
            "sent": len(measured),
            "answered": sum(1 for s in measured if s.status > 0),
            "answered_within_run": in_run,
            "sent_per_s": len(measured) / sent_s if sent_s else 0.0,
            "answered_per_s": in_run / sent_s if sent_s else 0.0,
            "max_start_lag_ms": round(self.max_start_lag_s * 1000, 2),
            "generator_loop_lag_ms": percentiles(self.loop_lags_ms),
            "writes": writes,
            "reads": len(measured) - writes,
            "errors": self.error_count,  # the warm-up's too
            "error_samples": self.errors,
            "statuses": dict(Counter(str(s.status) for s in measured)),
            "overall_ms": percentiles([s.latency_ms for s in measured]),
            "accepted_ms": percentiles([s.latency_ms for s in measured if s.ok]),
            "shed": sum(1 for s in measured if s.shed),
            "shed_exchange_ms": percentiles([s.exchange_ms for s in measured if s.shed]),
            "groups_ms": {g: percentiles(v) for g, v in sorted(groups.items())},
            "ops": ops,
            "windows": self._windows(measured, WINDOW_S),
            "blocks": self._windows(measured, BLOCK_S),
            "created": asdict(self.world.created),
        }


def main() -> None:
    config_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    cfg = Config(**json.loads(config_path.read_text()))
    # Clients are other machines in production: here the generator shares two cores with what it measures,
    # and when they are saturated its own late wake-ups would count as the services' latency. A higher CPU
    # priority (where the user may take one) keeps its clock honest; the services run as they always do.
    with contextlib.suppress(PermissionError):
        os.nice(-10)
    result = uvloop.run(Generator(cfg).run())
    result_path.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

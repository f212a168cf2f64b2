"""Failure drill: generated journeys through all four services while their processes are SIGKILLed and
restarted, the broker restarted once and PostgreSQL restarted once; then a reconciliation of what every
journey should have produced against what each service holds and what each topic carries.

    python -m bench.drill --journeys 2000 --kills 10        (make drill)

Journeys arrive the way custody suite and probation systems send them when they use Kafka: commands on
``custody.commands.v1`` and ``probation.events.v1``, each applied once by event id however often a restart
makes it be read. They are history (2008, seven minutes apart): each detention's hold-for-sample deadline is
long past when it is booked in, so its timer races the commands that follow, and every sample must still be
accepted, judged on the time it was taken. Kinds: a positive test then release (custody; referral opens a required assessment that
lapses on release, as the officer confirms; PPOs reach the tested-positive list), a positive test whose RA1 is
served and whose appointment passes (its attendance recorded over HTTP, then the release), a negative test then
release, and a DRR order with two unacceptable absences (a warning, then a breach whose two D4 due dates are
past, so each timer fires). The alerts referral raises for them are counted too (:mod:`bench.drill_alerts`).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import orjson
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

from bench import drill_alerts
from dipflow.auth import Role, mint_token
from dipflow.devstack import free_port
from dipflow.devstack.kafka import KafkaCluster
from dipflow.devstack.paths import project_root
from dipflow.devstack.principals import CUSTODY_SYSTEM, PROBATION_SYSTEM, SYSTEMS
from dipflow.devstack.process import ManagedProcess
from dipflow.devstack.services import SERVICES, start_service
from dipflow.devstack.stack import LocalStack, StackAddresses
from dipflow.events import EventPayload, new_envelope
from dipflow.events.senders import signed_headers
from dipflow.kafka.connection import kafka_consumer_options, kafka_options
from dipflow.topics import CUSTODY_COMMANDS, CUSTODY_EVENTS
from dipflow_breach.contracts.inbound import ComplianceRecorded, OrderMade
from dipflow_breach.domain.drr import ComplianceKind
from dipflow_custody.contracts.bodies import BookIn
from dipflow_custody.contracts.inbound import BookInCommand, DetentionCommand, detention_id_for

console = Console()
SECRET = "drill-secret-" + "x" * 40
RESTART_WAIT_S = 240.0
"""How long the broker or PostgreSQL may take to answer again after its restart: the drill tests what is lost,
not how fast a server starts, and on a slow machine with eight instances reconnecting at once a cold broker has
taken more than the devstack's 90 s (the time it took is in the report)."""
SUITE = "MET-BRIXTON"
HISTORY_STARTS = datetime(2008, 6, 2, 8, tzinfo=UTC)


@dataclass
class Journey:
    kind: str  # positive | imposed | negative | drr
    person_id: str
    ppo: bool = False
    detention_id: str = ""
    order_id: str = ""
    reported_late: bool = False  # the booking now, the rest after the other journeys (a system catching up)
    booked_at: datetime = HISTORY_STARTS
    messages: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, record value)


MIX = {"positive": 50, "imposed": 10, "negative": 25, "drr": 15}
"""The drill's journeys, by weight."""
KAFKA_ONLY_MIX = {"positive": 60, "negative": 25, "drr": 15}
"""Journeys that need nothing but Kafka (``make bench`` and ``make profile``, comparable across runs)."""


def generate(n: int, seed: int, mix: dict[str, int] = MIX) -> list[Journey]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible plan, not a secret
    run = uuid.UUID(int=rng.getrandbits(128)).hex[:6].upper()
    journeys = []
    for i in range(n):
        kind = rng.choices(list(mix), list(mix.values()))[0]
        j = Journey(
            kind,
            f"L-D{run}-{i}",
            ppo=kind == "positive" and rng.random() < 0.15,
            reported_late=kind != "drr" and rng.random() < 0.2,
        )
        # history: custody systems catching up on 2008; the hold-for-sample timers (T10) fall due at once and
        # race the commands, and the samples are judged on their own times all the same
        at = HISTORY_STARTS + timedelta(minutes=7 * i + rng.randrange(0, 7))
        day = at.date()
        j.booked_at = at

        def wrap(payload: EventPayload, when: datetime, j: Journey = j) -> None:
            sender = CUSTODY_SYSTEM if payload.topic == CUSTODY_COMMANDS.name else PROBATION_SYSTEM
            envelope = new_envelope(payload, person_id=j.person_id, producer=sender, occurred_at=when)
            j.messages.append((payload.topic, envelope.to_bytes()))
            if isinstance(payload, BookInCommand):
                j.detention_id = detention_id_for(envelope.event_id)

        if kind in ("positive", "imposed", "negative"):
            body = BookIn(
                person_id=j.person_id,
                name="Drill Person",
                date_of_birth=date(1978, 4, 4),
                home_area="lambeth",
                suite=SUITE,
                arrested_at=at,
                booked_in_at=at + timedelta(minutes=5),
                offences=[{"code": "TA1968-s1", "offence_date": day}],
            )
            wrap(BookInCommand(body=body), at)
            steps: list[tuple[str, dict[str, Any], int]] = [
                ("warning", {}, 10),
                ("sample", {}, 20),
                (
                    "result",
                    {"drug": "cocaine", "result": "negative" if kind == "negative" else "positive"},
                    40,
                ),
            ]
            if kind != "imposed":  # an imposed journey has RA1 served over HTTP, then its release
                # a positive's required assessment lapses on this release, as the officer confirms (A1)
                steps.append(
                    ("release", {"release": "police_bail", "lapse_confirmed": kind == "positive"}, 55)
                )
            for action, extra, minutes in steps:
                when = at + timedelta(minutes=minutes)
                wrap(
                    DetentionCommand(
                        detention_id=j.detention_id, action=action, body={**extra, "at": when.isoformat()}
                    ),
                    when,
                )
        else:
            j.order_id = f"DRR-D{run}-{i}"
            wrap(
                OrderMade(
                    order_id=j.order_id,
                    area="lambeth",
                    court="Camberwell Green",
                    start_date=date(2008, 1, 14),
                    treatment_months=24,
                    responsible_officer="PO Drill",
                ),
                at,
            )
            for n_, on in enumerate((date(2008, 3, 3), date(2008, 6, 2))):
                wrap(
                    ComplianceRecorded(
                        order_id=j.order_id,
                        record_id=f"{j.order_id}-r{n_}",
                        kind=ComplianceKind.unacceptable_absence,
                        on=on,
                    ),
                    at,
                )
        journeys.append(j)
    return journeys


@dataclass
class Chaos:
    kills: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    postgres_restarts: int = 0
    leader_kills: list[int] = field(default_factory=list)
    """The cluster's nodes SIGKILLed while leading custody.events.v1 partition 0, in order."""
    restart_s: dict[str, float] = field(default_factory=dict)
    """Seconds from starting the broker (or PostgreSQL) again to its answering, under the drill's load."""


async def partition_leader(bootstrap: str, topic: str, partition: int) -> int:
    """The node id leading ``topic``'s ``partition`` now."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return int(next(p["leader"] for p in described["partitions"] if p["partition"] == partition))


class System:
    """The servers and the four services as processes the drill can kill and restart, ``replicas`` instances
    of each (named ``custody``, ``custody-2``…), all with the same settings."""

    def __init__(
        self,
        state: Path,
        env: dict[str, str] | None = None,
        replicas: int = 1,
        kafka_nodes: int = 1,
        full_compiler: bool = False,
    ) -> None:
        """``full_compiler``: the broker as production runs it (:class:`dipflow.devstack.kafka.KafkaServer`),
        for measurements that last minutes (``make bench``, ``make profile``)."""
        self.state = state
        self.env = env or {}
        self.stack = LocalStack(
            state,
            kafka_port=free_port(),
            controller_port=free_port(),
            postgres_port=free_port(),
            durable=True,
            kafka_nodes=kafka_nodes,
            full_compiler=full_compiler,
        )
        self.addresses: StackAddresses | None = None
        self.instances = {
            spec.replica_name(replica): (spec, replica)
            for spec in SERVICES
            for replica in range(1, replicas + 1)
        }
        self.ports = {name: free_port() for name in self.instances}
        self.processes: dict[str, ManagedProcess] = {}

    def start(self) -> None:
        self.addresses = self.stack.up()
        for name in self.instances:
            self.start_instance(name)

    def start_instance(self, name: str) -> None:
        assert self.addresses is not None
        spec, replica = self.instances[name]
        self.processes[name] = start_service(
            spec,
            self.addresses,
            log_dir=self.state / "logs",
            port=self.ports[name],
            replica=replica,
            extra_env={
                "DIPFLOW_AUTH_DEV_SECRET": SECRET,
                "DIPFLOW_BREACH_WEBHOOK_RETRY_BASE_S": "1",
                "DIPFLOW_REFERRAL_WEBHOOK_RETRY_BASE_S": "1",
                **self.env,
            },
        )

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if not process.alive():
            raise RuntimeError(
                f"{name} exited by itself (code {process.popen.returncode}) before the drill killed it; "
                f"the end of {process.log_path}:\n{process.tail(30)}"
            )
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(10)

    def url(self, name: str) -> str:
        """An instance's URL; for a service's name, its first instance that is alive (any, if none is)."""
        if name in self.processes and self.processes[name].alive():
            return f"http://127.0.0.1:{self.ports[name]}"
        mine = [n for n, (spec, _) in self.instances.items() if spec.name == name or n == name]
        alive = [n for n in mine if n in self.processes and self.processes[n].alive()]
        return f"http://127.0.0.1:{self.ports[(alive or mine)[0]]}"

    async def wait_ready(self, timeout_s: float = 180) -> None:
        """Every instance answering ``/readyz`` 200; a timeout names those that never did. 180 s: on a 2-core
        machine eight instances start beside a broker and a database, and in ``make test`` perhaps beside an
        identity provider and a browser starting in the other worker."""
        pending = set(self.ports)
        last: dict[str, str] = {}
        try:
            async with httpx.AsyncClient(timeout=2) as client, asyncio.timeout(timeout_s):
                while pending:
                    for name in list(pending):
                        try:
                            answer = await client.get(f"{self.url(name)}/readyz")
                            if answer.status_code == 200:
                                pending.discard(name)
                            last[name] = answer.text
                        except httpx.HTTPError as exc:
                            last[name] = f"no answer ({type(exc).__name__})"
                    await asyncio.sleep(0.3)
        except TimeoutError:
            why = "\n".join(self._not_ready(name, last.get(name, "never asked")) for name in sorted(pending))
            raise TimeoutError(
                f"not ready after {timeout_s:.0f} s: {', '.join(sorted(pending))}\n{why}"
            ) from None

    def _not_ready(self, name: str, answer: str) -> str:
        """Why an instance is not ready: its last ``/readyz`` answer, or its exit code and the end of its log."""
        process = self.processes[name]
        if not process.alive():
            return f"{name} exited (code {process.popen.returncode}); the end of its log:\n{process.tail(30)}"
        return f"{name} answered: {answer}; the end of its log:\n{process.tail(15)}"

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.stack.down()

    def dsn(self, service: str) -> str:
        assert self.addresses is not None
        return self.addresses.service_dsn(service)


def outside_headers(custody_key: str, topic: str, value: bytes) -> list[tuple[str, bytes]]:
    """The headers an outside system puts on a record to ``topic``: custody's commands signed with the suites'
    key (dipflow.events.senders), probation's events none."""
    return signed_headers(CUSTODY_SYSTEM, custody_key, value) if topic == CUSTODY_COMMANDS.name else []


class OutsideSystems:
    """The custody suites' and probation's systems as the drill and the bench play them: each topic through
    its own system's principal, custody's commands signed with the suites' key (dipflow.events.senders)."""

    def __init__(self, addresses: StackAddresses, **options: Any) -> None:
        self.key = addresses.sender_keys[CUSTODY_SYSTEM]
        self.producers = {
            topic: AIOKafkaProducer(**kafka_options(addresses.systems_kafka[system]), **options)
            for system, topic in SYSTEMS.items()
        }

    async def start(self) -> None:
        for producer in self.producers.values():
            await producer.start()

    async def stop(self) -> None:
        for producer in self.producers.values():
            await producer.stop()

    def _headers(self, topic: str, value: bytes) -> list[tuple[str, bytes]]:
        return outside_headers(self.key, topic, value)

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        sent: asyncio.Future[Any] = await self.producers[topic].send(
            topic, value, key=key, headers=self._headers(topic, value)
        )
        return sent

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        await self.producers[topic].send_and_wait(topic, value, key=key, headers=self._headers(topic, value))

    async def flush(self) -> None:
        for producer in self.producers.values():
            await producer.flush()


async def _send_all(
    addresses: StackAddresses, journeys: list[Journey], rate: float, done: asyncio.Event
) -> int:
    """Send each journey's messages in order (keyed by person), ``rate`` journeys a second; a send that fails
    while the broker is away is retried with the same bytes (same event id: applied once)."""
    producer = OutsideSystems(addresses, enable_idempotence=True, linger_ms=5, request_timeout_ms=60_000)
    await producer.start()
    sent = 0
    started = time.monotonic()

    async def send(j: Journey, messages: list[tuple[str, bytes]]) -> None:
        nonlocal sent
        for topic, value in messages:
            while True:
                try:
                    await producer.send_and_wait(topic, value, key=j.person_id.encode())
                    break
                except Exception:
                    await asyncio.sleep(0.5)
            sent += 1

    try:
        for i, j in enumerate(journeys):
            await send(j, j.messages[:1] if j.reported_late else j.messages)
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        for j in journeys:
            if j.reported_late:
                await send(j, j.messages[1:])
    finally:
        await producer.stop()
        done.set()
    return sent


async def _chaos(
    system: System,
    kills: int,
    restart_infra: bool,
    duration_s: float,
    sending: asyncio.Event,
    chaos: Chaos,
    rng: random.Random,
) -> None:
    """Spread ``kills`` SIGKILLs over the sending period, each service restarted after a moment; restart the
    broker once (a third of the way) and PostgreSQL once (two thirds). On a cluster, SIGKILL the leader of
    custody's first event partition a quarter of the way and whichever node leads it then at three quarters,
    each restarted a few seconds later."""
    events: list[tuple[float, str]] = [(duration_s * (k + 0.5) / max(kills, 1), "kill") for k in range(kills)]
    if restart_infra and isinstance(system.stack.kafka, KafkaCluster):
        events += [(duration_s / 4, "leader"), (duration_s / 2, "postgres"), (duration_s * 3 / 4, "leader")]
    elif restart_infra:
        events += [(duration_s / 3, "broker"), (duration_s * 2 / 3, "postgres")]
    started = time.monotonic()
    for at, what in sorted(events):
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        if what == "kill":
            name = rng.choice(sorted(system.instances))
            system.kill(name)
            chaos.kills[name] += 1
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            system.start_instance(name)
        elif what == "leader":
            assert isinstance(system.stack.kafka, KafkaCluster)
            leader = await partition_leader(system.stack.kafka.bootstrap, CUSTODY_EVENTS.name, 0)
            await asyncio.to_thread(system.stack.kafka.node(leader).kill)
            chaos.leader_kills.append(leader)
            await asyncio.sleep(5)
            await asyncio.to_thread(system.stack.kafka.restart, leader)
        elif what == "broker":
            await asyncio.to_thread(system.stack.kafka.stop)
            await asyncio.sleep(3)
            started = time.monotonic()
            await asyncio.to_thread(system.stack.kafka.start, RESTART_WAIT_S)
            chaos.restart_s["broker"] = time.monotonic() - started
            chaos.broker_restarts += 1
        else:
            await asyncio.to_thread(system.stack.postgres.stop)
            await asyncio.sleep(3)
            started = time.monotonic()
            await asyncio.to_thread(system.stack.postgres.start, RESTART_WAIT_S)
            chaos.restart_s["postgres"] = time.monotonic() - started
            chaos.postgres_restarts += 1


async def _setup_ppos(system: System, journeys: list[Journey]) -> None:
    token = mint_token(SECRET, subject="drill", role=Role.ppo_coordinator, area="lambeth")
    async with httpx.AsyncClient(base_url=system.url("ppo-register"), timeout=30) as client:
        for j in journeys:
            if j.ppo:
                answer = await client.post(
                    "/v1/register",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "person_id": j.person_id,
                        "borough": "lambeth",
                        "strand": "catch_and_convict",
                        "start_date": "2008-01-01",
                        "reason": "drill",
                    },
                )
                assert answer.status_code == 201, answer.text


async def dead_letters(bootstrap: str) -> Counter[str]:
    """Records in the dead-letter topics, by topic, reason and exception (what was not applied, and why)."""
    from dipflow.topics import MAIN_TOPICS

    found: Counter[str] = Counter()
    for spec in MAIN_TOPICS:
        consumer = AIOKafkaConsumer(
            spec.dead_letter().name,
            **kafka_consumer_options(bootstrap),
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            for records in (await consumer.getmany(timeout_ms=1500)).values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    found[
                        f"{spec.name}: {headers.get('dlq.reason')} {headers.get('dlq.exception')} "
                        f"{headers.get('dlq.message', '')}"
                    ] += 1
        finally:
            await consumer.stop()
    return found


async def _topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_consumer_options(bootstrap),
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for the assignment
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(list(consumer.assignment()))

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [orjson.loads(r.value) for r in records if r.value is not None]
    finally:
        await consumer.stop()
    return out


@dataclass
class Check:
    name: str
    expected: int
    found: int
    duplicated: int = 0

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.found)


async def _serve_ra1_and_attend(
    system: System, journeys: list[Journey], timeout_s: float, calm: asyncio.Event
) -> None:
    """The imposed journeys' RA1, attendance and release over HTTP, a few at a time, through the kills; each
    step given ``timeout_s`` once the chaos is over (``calm``)."""
    gate = asyncio.Semaphore(8)

    async def one(j: Journey) -> None:
        async with gate:
            await drill_alerts.serve_and_attend(
                system.url, system.dsn, SECRET, j.detention_id, j.booked_at, timeout_s, calm
            )

    await asyncio.gather(*(one(j) for j in journeys if j.kind == "imposed"))


async def reconcile(
    system: System, journeys: list[Journey], receiver: drill_alerts.AlertReceiver
) -> list[Check]:
    """What every journey should have produced, against the services' databases, the topics and the webhook."""
    assert system.addresses is not None
    positives = [j for j in journeys if j.kind == "positive"]
    imposed = [j for j in journeys if j.kind == "imposed"]
    custody_journeys = [j for j in journeys if j.kind in ("positive", "imposed", "negative")]
    orders = [j for j in journeys if j.kind == "drr"]
    ppo_positives = [j for j in positives if j.ppo]
    checks: list[Check] = []

    async def count(service: str, sql: str, *args: Any) -> int:
        conn = await asyncpg.connect(system.dsn(service))
        try:
            return int(await conn.fetchval(sql, *args))
        finally:
            await conn.close()

    detentions = [j.detention_id for j in custody_journeys]
    checks.append(
        Check(
            "custody: detentions",
            len(detentions),
            await count(
                "custody", "SELECT count(*) FROM detentions WHERE detention_id = ANY($1::text[])", detentions
            ),
        )
    )
    checks.append(
        Check(
            "referral: required assessments",
            len(positives),
            await count(
                "referral",
                "SELECT count(*) FROM assessments WHERE detention_id = ANY($1::text[]) AND status = 'lapsed'",
                [j.detention_id for j in positives],
            ),
        )
    )
    checks.append(
        Check(
            "referral: required assessments attended",
            len(imposed),
            await count(
                "referral",
                "SELECT count(*) FROM assessments WHERE detention_id = ANY($1::text[]) AND status = 'initial_attended'",
                [j.detention_id for j in imposed],
            ),
        )
    )
    checks.append(
        Check(
            "ppo-register: tested-positive PPOs",
            len(ppo_positives),
            await count(
                "ppo-register",
                "SELECT count(DISTINCT person_id) FROM positive_results WHERE person_id = ANY($1::text[])",
                [j.person_id for j in ppo_positives],
            ),
        )
    )
    order_ids = [j.order_id for j in orders]
    checks.append(
        Check(
            "breach: warnings",
            len(orders),
            await count(
                "breach", "SELECT count(*) FROM warnings WHERE order_id = ANY($1::text[])", order_ids
            ),
        )
    )
    checks.append(
        Check(
            "breach: breach cases",
            len(orders),
            await count(
                "breach", "SELECT count(*) FROM breach_cases WHERE order_id = ANY($1::text[])", order_ids
            ),
        )
    )

    bootstrap = system.addresses.kafka_bootstrap
    wanted = {
        "custody.events.v1": {
            "custody.booked_in": detentions,
            "custody.sample_taken": detentions,
            "custody.result_recorded": detentions,
            "custody.released": detentions,
        },
        "referral.events.v1": {
            "referral.assessment_required": [j.detention_id for j in [*positives, *imposed]],
            "referral.requirement_lapsed": [j.detention_id for j in positives],
            "referral.requirement_imposed": [j.detention_id for j in imposed],
            "referral.attendance_recorded": [j.detention_id for j in imposed],
        },
        "breach.events.v1": {"breach.warning_issued": order_ids, "breach.proceedings_started": order_ids},
    }
    for topic, types in wanted.items():
        events = await _topic(bootstrap, topic)
        distinct = {e["event_id"]: e for e in events}
        for type_, subjects in types.items():
            keys = Counter(
                e["payload"].get("detention_id") or e["payload"].get("order_id")
                for e in distinct.values()
                if e["type"] == type_
            )
            found = sum(1 for s in subjects if keys.get(s, 0) >= 1)
            duplicated = sum(keys.get(s, 0) - 1 for s in subjects if keys.get(s, 0) > 1)
            checks.append(Check(f"{topic}: {type_}", len(subjects), found, duplicated))
    custody_events = {e["event_id"]: e for e in await _topic(bootstrap, "custody.events.v1")}.values()
    closed_first = {
        e["payload"]["detention_id"] for e in custody_events if e["type"] == "custody.deadline_passed"
    }
    console.print(
        f"hold-for-sample timers that closed the window before the sample was reported: "
        f"{len(closed_first & set(detentions))} of {len(detentions)} detentions (their samples still counted)"
    )
    breach_events = {e["event_id"]: e for e in await _topic(bootstrap, "breach.events.v1")}.values()
    fired = Counter(
        (e["payload"]["case_id"], e["payload"]["deadline"])
        for e in breach_events
        if e["type"] == "breach.deadline_passed"
    )
    checks.append(
        Check(
            "breach: D4 deadlines fired",
            2 * len(orders),
            len(fired),
            sum(n - 1 for n in fired.values() if n > 1),
        )
    )
    alerts = await drill_alerts.checks(
        system.dsn, [j.detention_id for j in positives], [j.detention_id for j in imposed], receiver
    )
    checks += [Check(*c) for c in alerts]
    return checks


@dataclass
class Report:
    journeys: int
    messages: int
    chaos: Chaos
    checks: list[Check]
    seconds: float
    dead: Counter[str] = field(default_factory=Counter)
    replicas: int = 1

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.checks)

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.checks)

    def print(self) -> None:
        table = Table(
            title=f"Drill: {self.journeys} journeys, {self.messages} messages, {self.replicas} instance(s) of "
            f"each service, {self.seconds:.0f} s"
        )
        for column in ("check", "expected", "found", "lost", "duplicated"):
            table.add_column(column, justify="left" if column == "check" else "right")
        for c in self.checks:
            table.add_row(c.name, str(c.expected), str(c.found), str(c.lost), str(c.duplicated))
        console.print(table)
        kills = ", ".join(f"{k} {v}" for k, v in sorted(self.chaos.kills.items()))
        console.print(
            f"SIGKILLs: {sum(self.chaos.kills.values())} ({kills}); broker restarts: "
            f"{self.chaos.broker_restarts}; PostgreSQL restarts: {self.chaos.postgres_restarts}"
        )
        if self.chaos.restart_s:
            took = ", ".join(f"{what} {s:.1f} s" for what, s in sorted(self.chaos.restart_s.items()))
            console.print(f"Answering again after a restart, under load: {took}")
        if self.chaos.leader_kills:
            leaders = ", then ".join(f"node {n}" for n in self.chaos.leader_kills)
            console.print(f"Partition leaders SIGKILLed (three-node cluster, RF 3, min.insync 2): {leaders}")
        console.print(f"lost effects: {self.lost}; duplicated effects: {self.duplicated}")
        for what, n in self.dead.items():
            console.print(f"dead letters x{n}: {what}")


async def run_drill(
    *,
    journeys: int,
    kills: int,
    rate: float,
    seed: int,
    restart_infra: bool = True,
    settle_s: float = 300,
    state: Path | None = None,
    replicas: int = 1,
    cluster: int = 1,
) -> Report:
    state = state or project_root() / ".local" / "drills" / f"drill-{uuid.uuid4().hex[:8]}"
    system = System(state, replicas=replicas, kafka_nodes=cluster)
    started = time.monotonic()
    hook_secret = f"drill-alerts-{uuid.uuid4().hex}"
    try:
        await asyncio.to_thread(system.start)
        await system.wait_ready()
        plan = generate(journeys, seed)
        await _setup_ppos(system, plan)
        assert system.addresses is not None
        async with drill_alerts.receiving(hook_secret) as (receiver, hook_url):
            await drill_alerts.register(system.url("referral"), SECRET, hook_url, hook_secret)
            chaos = Chaos()
            done = asyncio.Event()
            duration = journeys / rate
            sender = asyncio.create_task(_send_all(system.addresses, plan, rate, done))
            calm = asyncio.Event()
            attending = asyncio.create_task(_serve_ra1_and_attend(system, plan, settle_s, calm))
            await _chaos(system, kills, restart_infra, duration, done, chaos, random.Random(seed))  # noqa: S311
            calm.set()
            sent = await sender
            await system.wait_ready()
            await attending
            checks = await _settle(system, plan, receiver, settle_s)
            dead = await dead_letters(system.addresses.kafka_bootstrap)
            if receiver.unsigned:
                dead[f"alert webhook deliveries with a bad signature: {receiver.unsigned}"] += 1
        report = Report(journeys, sent, chaos, checks, time.monotonic() - started, dead, replicas)
    except BaseException:
        await asyncio.to_thread(system.stop)
        console.print(f"The drill failed; its servers' and services' logs are kept in {state}")
        raise
    await asyncio.to_thread(system.stop)
    shutil.rmtree(state, ignore_errors=True)
    return report


async def _settle(
    system: System, plan: list[Journey], receiver: drill_alerts.AlertReceiver, settle_s: float
) -> list[Check]:
    deadline = time.monotonic() + settle_s
    while True:
        checks = await reconcile(system, plan, receiver)
        if all(c.lost == 0 for c in checks) or time.monotonic() > deadline:
            return checks
        await asyncio.sleep(2)


def main(
    journeys: Annotated[int, typer.Option(help="Generated journeys")] = 2000,
    kills: Annotated[int, typer.Option(help="SIGKILLs of service processes, spread over the run")] = 10,
    rate: Annotated[float, typer.Option(help="Journeys sent a second")] = 25.0,
    seed: Annotated[int, typer.Option()] = 2008,
    settle: Annotated[float, typer.Option(help="Seconds to wait for everything to be applied")] = 300.0,
    replicas: Annotated[
        int, typer.Option(min=1, max=4, help="Instances of each service, killed at random")
    ] = 2,
    cluster: Annotated[int, typer.Option(min=1, max=5, help="Kafka nodes: 3 kills partition leaders")] = 1,
) -> None:
    report = asyncio.run(
        run_drill(
            journeys=journeys,
            kills=kills,
            rate=rate,
            seed=seed,
            settle_s=settle,
            replicas=replicas,
            cluster=cluster,
        )
    )
    report.print()
    sys.exit(0 if report.lost == 0 and report.duplicated == 0 else 1)


if __name__ == "__main__":
    typer.run(main)

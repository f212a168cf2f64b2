"""What runs behind a service's routes, declared once: the outbox relay (every service has one), its Kafka
subscriptions, its timers and its webhook deliveries. :func:`dipflow.http.app.create_service_app` starts them
after the start hooks and stops them on shutdown; the consumer group of a subscription is
``<service>.<group>``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import asyncpg

from dipflow.events import EventRegistry
from dipflow.events.consumer import EventConsumer, Feed, Handler, Prefetch, TombstoneHandler
from dipflow.events.relay import OutboxRelay
from dipflow.events.senders import RecordCheck
from dipflow.events.timers import DeadlineHandler, ReadAhead, TimerLoop
from dipflow.privacy.erasure import PersonEraser
from dipflow.privacy.late import LateEvents
from dipflow.settings import ServiceSettings
from dipflow.uow import Producer
from dipflow.webhooks import DeliveryStore, delivery_loop

StartHook = Callable[["ServiceResources"], Awaitable[None]]


class BackgroundLoop(Protocol):
    async def run(self) -> None: ...


@dataclass
class ServiceResources:
    """What a running service holds: its settings and database pool, its background loops (relay,
    consumers, timers: started after the start hooks, cancelled on stop)."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    producer: Producer
    loops: list[BackgroundLoop] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def readiness(self) -> dict[str, bool]:
        """Each loop that reports readiness (a consumer with lag and no progress is not ready), and each
        loop task that died."""
        checks: dict[str, bool] = {}
        for loop, task in zip(self.loops, self.tasks, strict=False):
            report = getattr(loop, "readiness", None)
            if callable(report):
                checks.update(report())
            if task.done():
                checks[f"loop:{type(loop).__name__}"] = False
        return checks


@dataclass(frozen=True)
class Subscription:
    """A consumer group reading ``topics``: each event of ``registry`` to ``handler`` in its own unit of work."""

    group: str
    topics: Sequence[str]
    registry: EventRegistry
    handler: Handler
    on_tombstone: TombstoneHandler | None = None
    check: RecordCheck | None = None
    """Refuses a record before it is applied (outside systems' signatures: :mod:`dipflow.events.senders`)."""
    prefetch: Prefetch | None = None
    """Reads what a batch's events name at once, before its handlers run."""
    gathers: bool = False
    """For a group whose effects nobody waits on to the second (breach's arrest requests, the PPO register's
    records): its fetches gather records at the broker for up to ``DIPFLOW_KAFKA_FETCH_WAIT_MS`` (the wait an idle
    fetch has anyway), so a batch, and its transaction, takes what came in that time, not the few records that
    arrived since the last poll (:class:`~dipflow.events.consumer.EventConsumer`)."""
    feeds: Sequence[Feed] = ()
    """Topics read besides ``topics``, each with its own events and check, its inbox group named within the
    service as ``group`` is (``referral`` for ``<service>.referral``): ``handler`` and ``prefetch`` take their
    events too."""


@dataclass(frozen=True)
class Webhooks:
    """Signed deliveries of ``kind`` from ``store``, in their own timer loop (:mod:`dipflow.webhooks`)."""

    kind: str
    store: DeliveryStore
    retry_base_s: float
    max_attempts: int


@dataclass(frozen=True)
class Wiring:
    subscriptions: Sequence[Subscription] = ()
    timers: Mapping[str, DeadlineHandler] = field(default_factory=dict)
    timers_read_ahead: ReadAhead | None = None
    """What a timer pass's handlers act on, read at once before they run together (:data:`ReadAhead`)."""
    webhooks: Sequence[Webhooks] = ()
    timer_poll_interval_s: float = 1.0
    on_start: Sequence[StartHook] = ()
    """Run in order after the migrations, before the loops start (a hook may add loops of its own)."""
    relay: bool = True
    """Every service publishes through its outbox; only a test app without events goes without."""


def loops(
    wiring: Wiring,
    settings: ServiceSettings,
    pool: asyncpg.Pool,
    producer: Producer,
    eraser: PersonEraser | None = None,
) -> list[OutboxRelay | EventConsumer | TimerLoop]:
    """The relay, one consumer per subscription, one timer loop for the rules' deadlines (when there are any)
    and one per kind of webhook. With the service's ``eraser``, each consumer erases again the erased people
    its late events name (:class:`~dipflow.privacy.late.LateEvents`)."""
    found: list[OutboxRelay | EventConsumer | TimerLoop] = []
    if wiring.relay:
        found.append(
            OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
        )
    for subscription in wiring.subscriptions:
        found.append(
            EventConsumer(
                bootstrap=settings.kafka_bootstrap,
                pool=pool,
                group_id=f"{settings.service_name}.{subscription.group}",
                topics=subscription.topics,
                registry=subscription.registry,
                handler=subscription.handler,
                producer=producer,
                on_tombstone=subscription.on_tombstone,
                check=subscription.check,
                prefetch=subscription.prefetch,
                gathers=subscription.gathers,
                feeds=[
                    replace(feed, inbox_group=f"{settings.service_name}.{feed.inbox_group}")
                    for feed in subscription.feeds
                ],
                erased_people=LateEvents(eraser) if eraser is not None else None,
            )
        )
    if wiring.timers:
        found.append(
            TimerLoop(
                pool,
                wiring.timers,
                producer=producer,
                poll_interval_s=wiring.timer_poll_interval_s,
                read_ahead=wiring.timers_read_ahead,
            )
        )
    for hooks in wiring.webhooks:
        found.append(
            delivery_loop(
                pool,
                producer,
                hooks.kind,
                hooks.store,
                retry_base_s=hooks.retry_base_s,
                max_attempts=hooks.max_attempts,
            )
        )
    return found

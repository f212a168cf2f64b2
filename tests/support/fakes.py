"""A unit of work without a database, for service-layer unit tests (as cosmicpython's FakeUnitOfWork).

It records what a service function would commit — events, tombstones, audit rows, deadlines scheduled and
cancelled — as plain values a test can assert on. Anything that reaches for a connection fails the test: a
service function under test reads and writes through repositories, which the test replaces with fakes
(``monkeypatch.setattr(service_module, "<adapter module name>", FakeRepository(...))``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from dipflow.alerts.model import RaiseAlert
from dipflow.auth.principal import Principal
from dipflow.db.appends import Writes
from dipflow.events.envelope import EventPayload
from dipflow.uow import Producer, UnitOfWork


class NoDatabase(Writes):
    """Writes that refuse every statement: a unit test that reaches the database is a wrong test."""

    def __init__(self) -> None:
        super().__init__(conn=None, batched=False)

    async def outbox(self, rows: list[Any]) -> None:
        raise AssertionError("the fake unit of work records events in .events")

    async def audit(self, row: Any) -> None:
        raise AssertionError("the fake unit of work records audit rows in .audits")

    async def execute(self, sql: str, *args: Any) -> None:
        raise AssertionError(f"a service-layer unit test reached SQL: {sql[:60]}")

    async def notify(self, channel: str, payload: str = "") -> None:
        raise AssertionError("NOTIFY in a unit test")

    async def flush(self) -> None:
        return None


@dataclass(frozen=True)
class Emitted:
    person_id: str
    payload: EventPayload
    occurred_at: datetime
    topic: str


TEST_PRODUCER = Producer("test", "test.events.v1")


@dataclass
class FakeUnitOfWork(UnitOfWork):
    """``UnitOfWork`` whose effects are recorded, not written."""

    writes: Writes = field(default_factory=NoDatabase)
    producer: Producer = TEST_PRODUCER
    events: list[Emitted] = field(default_factory=list)
    tombstones: list[tuple[str, str]] = field(default_factory=list)
    audits: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    scheduled: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = field(default_factory=dict)
    cancelled: list[tuple[str, str]] = field(default_factory=list)
    alerts: dict[tuple[str, str], RaisedAlert] = field(default_factory=dict)

    @property
    def conn(self) -> asyncpg.Connection:
        raise AssertionError("a service-layer unit test reached the connection")

    async def emit(
        self,
        person_id: str,
        payloads: Sequence[tuple[EventPayload, datetime]],
        *,
        topic: str | None = None,
        producer: str | None = None,
    ) -> None:
        self.events += [Emitted(person_id, p, at, topic or self.producer.topic) for p, at in payloads]

    async def tombstone(self, topic: str, key: str) -> None:
        self.tombstones.append((topic, key))

    async def audit(
        self, action: str, person_id: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        self.audits.append((action, person_id, detail or {}))

    async def schedule(
        self, kind: str, subject: str, due_at: datetime, payload: dict[str, Any] | None = None
    ) -> None:
        self.scheduled[(kind, subject)] = (due_at, payload or {})
        if (kind, subject) in self.cancelled:
            self.cancelled.remove((kind, subject))

    async def cancel(self, kind: str, subject: str) -> None:
        self.scheduled.pop((kind, subject), None)
        self.cancelled.append((kind, subject))

    async def execute(self, sql: str, *args: Any) -> None:
        raise AssertionError(f"a service-layer unit test reached SQL: {sql[:60]}")

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """No rollback: a unit test of a savepoint's effects belongs with the real database."""
        yield

    def payloads(self) -> list[EventPayload]:
        return [e.payload for e in self.events]


@dataclass
class RaisedAlert:
    """An alert a fake unit of work raised, with what happened to it since."""

    raised: RaiseAlert
    state: str = "open"
    role: str = ""
    resolution: str | None = None


async def raise_alert(
    uow: UnitOfWork, new: RaiseAlert, then: Callable[[Any], Awaitable[None]] | None = None
) -> None:
    """``dipflow.alerts.store.raise_alert`` for a fake unit of work: once per kind and subject, ``then`` at once."""
    assert isinstance(uow, FakeUnitOfWork)
    raised = None
    if (new.kind, new.subject) not in uow.alerts:
        raised = uow.alerts[(new.kind, new.subject)] = RaisedAlert(new, role=new.role)
    if then is not None:
        await then(raised)


def _escalated(uow: UnitOfWork, kind: str, subject: str, to_role: str) -> RaisedAlert | None:
    assert isinstance(uow, FakeUnitOfWork)
    found = uow.alerts.get((kind, subject))
    if found is None or found.state not in ("open", "acknowledged"):
        return None
    found.state, found.role = "escalated", to_role
    return found


async def escalate(uow: UnitOfWork, kind: str, subject: str, *, to_role: str) -> None:
    _escalated(uow, kind, subject, to_role)


async def escalate_all(works: Sequence[tuple[UnitOfWork, str, str]], *, to_role: str) -> list[RaisedAlert]:
    escalated = [_escalated(uow, kind, subject, to_role) for uow, kind, subject in works]
    return [alert for alert in escalated if alert is not None]


async def resolve(
    uow: UnitOfWork, kind: str, subject: str, *, resolution: str, by: str | None = None
) -> None:
    assert isinstance(uow, FakeUnitOfWork)
    found = uow.alerts.get((kind, subject))
    if found is not None and found.state != "resolved":
        found.state, found.resolution = "resolved", resolution


async def resolve_all(
    uow: UnitOfWork, alerts: Sequence[tuple[str, str]], *, resolution: str, by: str | None = None
) -> None:
    for kind, subject in alerts:
        await resolve(uow, kind, subject, resolution=resolution, by=by)


def fake_uow(actor: Principal | None = None, producer: Producer | None = None) -> FakeUnitOfWork:
    return FakeUnitOfWork(actor=actor, producer=producer or TEST_PRODUCER)

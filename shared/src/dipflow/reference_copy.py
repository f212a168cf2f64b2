"""A service's copy of the reference data custody publishes on ``reference.v1``: areas (boroughs and the force
covering each) and custody suites, each record with its whole history.

Every service keeps the same ``reference_copies`` table, filled by one consumer of the topic (its own group,
``<service>.reference``), and every process of the service holds the areas in memory for access checks
(:func:`dipflow.auth.principal.force_of`): it loads them when it starts and again whenever the copy changes
(``NOTIFY dipflow_reference`` on the consumer's commit), so a borough added by an admin is one a force's token
covers within moments, in every service, without a deployment. The custody process that answered the admin's
change has loaded it before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import date
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict

from dipflow.auth.principal import install_areas
from dipflow.events import Envelope, EventPayload, EventRegistry
from dipflow.logging import get_logger
from dipflow.topics import REFERENCE
from dipflow.uow import UnitOfWork
from dipflow.waking import woken
from dipflow.wiring import ServiceResources, Subscription
from dipflow.working_days import london_today

CHANNEL = "dipflow_reference"
log = get_logger("dipflow.reference")


class RecordVersion(BaseModel):
    """One version of a record, effective from a day; the other fields are the record's."""

    model_config = ConfigDict(extra="allow", frozen=True)
    effective_from: date


class ReferenceRecordView(EventPayload):
    """``reference.record`` v1 as a copy needs it (other fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type = "reference.record"
    topic = REFERENCE.name
    kind: str
    code: str
    versions: list[RecordVersion]


REGISTRY = EventRegistry(ReferenceRecordView)


async def keep(uow: UnitOfWork, payload: EventPayload) -> None:
    """Write ``payload`` (a ``reference.record``) into this service's copy; every process reloads its areas when
    the unit of work commits. Custody, which publishes the records, keeps its own copy in the transaction that
    changes them, so its own access checks never wait for the topic."""
    view = ReferenceRecordView.model_validate(payload.model_dump(mode="json"))
    record = view.model_dump(mode="json", include={"kind", "code", "versions"})
    await uow.execute(
        "INSERT INTO reference_copies (kind, key, record) VALUES ($1, $2, $3) "
        "ON CONFLICT (kind, key) DO UPDATE SET record = EXCLUDED.record, updated_at = now()",
        view.kind,
        view.code,
        record,
    )
    await uow.notify(CHANNEL)


async def on_record(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
    await keep(uow, payload)


SUBSCRIPTION = Subscription("reference", [REFERENCE.name], REGISTRY, on_record)
"""The consumer that keeps a service's copy, in its own group ``<service>.reference``."""


def area_forces(records: list[dict[str, Any]], on: date) -> dict[str, str]:
    """The force of each area on ``on`` (its version in force then, else its first)."""
    forces: dict[str, str] = {}
    for record in records:
        versions = sorted(record["versions"], key=lambda v: v["effective_from"])
        current = [v for v in versions if date.fromisoformat(v["effective_from"]) <= on] or versions[:1]
        if current:
            forces[record["code"]] = current[-1]["force"]
    return forces


async def load_areas(conn: asyncpg.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT record FROM reference_copies WHERE kind = 'area'")
    return area_forces([r["record"] for r in rows], london_today())


_reads = itertools.count(1)
_installed_read = [0]


async def reload_areas(pool: asyncpg.Pool) -> None:
    """Install the areas of the copy as committed now. A read begun earlier that ends later does not replace
    them, so what a process holds never goes back to before a change it has loaded."""
    read = next(_reads)
    async with pool.acquire() as conn:
        forces = await load_areas(conn)
    if read > _installed_read[0]:
        _installed_read[0] = read
        install_areas(forces)


async def reload_areas_after_change(pool: asyncpg.Pool) -> bool:
    """:func:`reload_areas`, by the process that has just committed a change of areas, before it answers. If
    that read fails, the change still stands (the directory loads it on its ``NOTIFY``): False, and logged,
    never an error for a request whose change was made."""
    try:
        await reload_areas(pool)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning("areas_not_reloaded_after_change", error=type(exc).__name__)
        return False
    return True


class AreaDirectory:
    """The process's areas: loaded at start and on every change of the copy."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.loads = 0

    async def load(self) -> None:
        await reload_areas(self.pool)
        self.loads += 1

    async def run(self) -> None:
        changed = asyncio.Event()
        while True:
            try:
                async with self.pool.acquire() as conn:
                    wake = lambda *_: changed.set()  # noqa: E731
                    await conn.add_listener(CHANNEL, wake)
                    try:
                        await self.load()
                        while True:
                            await changed.wait()
                            changed.clear()
                            await self.load()
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.remove_listener(CHANNEL, wake)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("area_directory_reconnecting", error=type(exc).__name__)
                await woken(changed, 1.0)


async def start_area_directory(resources: ServiceResources) -> None:
    """Start hook: load the areas now (so the first request sees them) and keep them current."""
    directory = AreaDirectory(resources.pool)
    await directory.load()
    resources.loops.append(directory)

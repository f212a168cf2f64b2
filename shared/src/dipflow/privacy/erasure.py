"""Erasure by person id: each service consumes ``privacy.erasure_requested`` and, in one transaction,
pseudonymises or deletes that person's records, remembers the erasure (by pseudonym) and confirms it with
``privacy.erasure_completed``, which names the person by pseudonym only. Events about the person that happened
before the erasure and arrive after it are erased too (:mod:`dipflow.privacy.late`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from dipflow.events import Envelope, EventPayload, EventRegistry
from dipflow.events.consumer import EventConsumer, Handler
from dipflow.logging import get_logger
from dipflow.privacy.events import PRIVACY_EVENTS, ErasureCompleted, ErasureRequested
from dipflow.privacy.pseudonyms import Pseudonyms, pseudonymise_rows
from dipflow.topics import PRIVACY_REQUESTS
from dipflow.uow import Producer, UnitOfWork

log = get_logger("dipflow.privacy")

PersonEraser = Callable[[UnitOfWork, str, Pseudonyms], Awaitable[dict[str, int]]]
"""(unit of work, person id, pseudonyms) → rows changed per table, for the service's own tables."""


async def erase_platform_rows(uow: UnitOfWork, person_id: str, pseudonyms: Pseudonyms) -> dict[str, int]:
    """The tables every service has: the audit trail keeps its entries under the pseudonym; stored
    idempotent answers that mention the person are dropped (a retry then gets a fresh answer)."""
    await uow.flush()
    conn = uow.conn
    audit = await pseudonymise_rows(conn, pseudonyms, "audit_log", "person_id = $1", person_id)
    dropped = await conn.execute(
        "DELETE FROM idempotency_keys WHERE position($1::bytea IN coalesce(body, ''::bytea)) > 0 "
        "OR position($2 IN path) > 0",
        person_id.encode(),
        person_id,
    )
    return {"audit_log": audit, "idempotency_keys": int(dropped.rsplit(" ", 1)[-1])}


async def erase_in_service(
    uow: UnitOfWork, eraser: PersonEraser, person_id: str, pseudonyms: Pseudonyms
) -> dict[str, int]:
    """The person erased from the service's own tables (``eraser``) and the platform's: rows changed per table."""
    rows = await eraser(uow, person_id, pseudonyms)
    rows.update(await erase_platform_rows(uow, person_id, pseudonyms))
    return rows


def erasure_handler(service: str, eraser: PersonEraser, *, collect_confirmations: bool = False) -> Handler:
    async def handle(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
        conn = uow.conn
        if isinstance(payload, ErasureCompleted):
            if collect_confirmations:
                await conn.execute(
                    "INSERT INTO erasure_confirmations (request_id, service, erased_at, rows) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    payload.request_id,
                    payload.service,
                    payload.erased_at,
                    payload.rows,
                )
            return
        assert isinstance(payload, ErasureRequested)
        # Waits for the batches that are applying events (they read this table) to commit, and holds new ones
        # until this erasure has: either way the erasure finds what they wrote, or they find the erasure.
        await conn.execute("LOCK TABLE erasures IN ACCESS EXCLUSIVE MODE")
        pseudonyms = await Pseudonyms.load(conn)
        alias = pseudonyms.of(envelope.person_id)
        rows = await erase_in_service(uow, eraser, envelope.person_id, pseudonyms)
        erased_at = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO erasures (request_id, pseudonym, requested_at, erased_at, rows) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING",
            payload.request_id,
            alias,
            envelope.occurred_at,
            erased_at,
            rows,
        )
        completed = ErasureCompleted(
            request_id=payload.request_id, service=service, erased_at=erased_at, rows=rows
        )
        await uow.emit(alias, [(completed, erased_at)], topic=PRIVACY_REQUESTS.name, producer=service)
        log.info("person_erased", request_id=str(payload.request_id), rows=sum(rows.values()))

    return handle


def erasure_consumer(
    *,
    service: str,
    bootstrap: str,
    pool: asyncpg.Pool,
    eraser: PersonEraser,
    collect_confirmations: bool = False,
) -> EventConsumer:
    """The consumer of ``privacy.requests.v1`` for one service. The service that takes the requests also
    collects every service's confirmation; the others pass confirmations over."""
    registry = (
        PRIVACY_EVENTS if collect_confirmations else EventRegistry(ErasureRequested, skip_other=("privacy.",))
    )
    return EventConsumer(
        bootstrap=bootstrap,
        pool=pool,
        group_id=f"{service}.privacy",
        topics=[PRIVACY_REQUESTS.name],
        registry=registry,
        handler=erasure_handler(service, eraser, collect_confirmations=collect_confirmations),
        producer=Producer(service, PRIVACY_REQUESTS.name),
    )

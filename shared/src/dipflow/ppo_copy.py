"""A service's local copy of the PPO register, kept from the compacted topic ``ppo.register.v1``.

Custody (T4: a PPO arrested for a non-trigger offence goes to an inspector) and breach (D5: the PPO fast track)
both need to know, in their own transaction, whether a person is on the register now, and in which borough. Each
keeps the same ``ppo_register`` table (person, borough) in its own database, filled by one consumer of the
topic: a status sets the person's borough, a tombstone takes them off.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import ConfigDict

from dipflow.events import Envelope, EventPayload, EventRegistry
from dipflow.topics import PPO_REGISTER
from dipflow.uow import UnitOfWork
from dipflow.wiring import Subscription


class PpoStatusView(EventPayload):
    """``ppo.status`` v1 from the ppo-register service, as far as a copy needs it (other fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type = "ppo.status"
    topic = PPO_REGISTER.name
    borough: str


REGISTER = EventRegistry(PpoStatusView)

_UPSERT = (
    "INSERT INTO ppo_register (person_id, borough) VALUES ($1, $2) "
    "ON CONFLICT (person_id) DO UPDATE SET borough = EXCLUDED.borough, updated_at = now()"
)


async def on_status(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, PpoStatusView)
    await uow.execute(_UPSERT, envelope.person_id, payload.borough)


async def on_removed(uow: UnitOfWork, key: bytes) -> None:
    await uow.execute("DELETE FROM ppo_register WHERE person_id = $1", key.decode())


async def read_ahead(uow: UnitOfWork, person_ids: Collection[str]) -> None:
    """The boroughs of ``person_ids`` read at once, for this transaction's :func:`borough_of` (one statement for
    a consumer's batch instead of one per person; the copy is written by its own consumer, never in that
    batch's transaction)."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return
    rows = await uow.conn.fetch(
        "SELECT person_id, borough FROM ppo_register WHERE person_id = ANY($1::text[])", wanted
    )
    found = {r["person_id"]: r["borough"] for r in rows}
    for person_id in wanted:
        uow.memo[_read_ahead(person_id)] = found.get(person_id)


def _read_ahead(person_id: str) -> tuple[str, str]:
    return ("ppo borough", person_id)


async def borough_of(uow: UnitOfWork, person_id: str) -> str | None:
    """The borough whose register holds the person now; None if they are not a PPO. Read once per
    transaction (or once per batch, by :func:`read_ahead`)."""
    key = _read_ahead(person_id)
    if key not in uow.memo:
        await read_ahead(uow, [person_id])
    borough: str | None = uow.memo[key]
    return borough


async def is_ppo(uow: UnitOfWork, person_id: str) -> bool:
    return await borough_of(uow, person_id) is not None


SUBSCRIPTION = Subscription("ppo-register", [PPO_REGISTER.name], REGISTER, on_status, on_removed)
"""The consumer that keeps a service's copy, in its own group ``<service>.ppo-register``."""

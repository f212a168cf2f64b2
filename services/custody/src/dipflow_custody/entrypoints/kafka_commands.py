"""The consumer of ``custody.commands.v1``: applies each command in the inbox transaction.

A command that breaks a rule, names an unknown code or suite, or has a body its action does not accept
fails every attempt and so lands in the dead-letter topic with the reason; the consumer carries on.
"""

from __future__ import annotations

import uuid

import asyncpg

from dipflow.audit import Audit
from dipflow.auth import Principal, Role
from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow_custody import handlers
from dipflow_custody.commands import BookInCommand, DetentionCommand
from dipflow_custody.entrypoints.actions import ACTIONS

_NAMESPACE = uuid.UUID("6f1c2a8e-5d7b-4c1e-9a3f-2b8d0e4c7a91")


def detention_id_for(command_event_id: uuid.UUID) -> str:
    """A book-in command always creates the same detention id, so a re-sent command is recognisable."""
    return str(uuid.uuid5(_NAMESPACE, str(command_event_id)))


def _trusted(_: str) -> None:
    """Custody systems on the command topic act for their own suites (enforced by topic ACLs)."""


def command_handler(pool: asyncpg.Pool) -> Handler:
    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        await apply_command(conn, pool, envelope, payload)

    return handle


async def apply_command(
    conn: asyncpg.Connection, pool: asyncpg.Pool, envelope: Envelope, payload: EventPayload
) -> None:
    audit = Audit(
        pool=pool,
        principal=Principal(subject=f"system:{envelope.producer}", role=Role.custody_officer, area="*"),
        correlation_id=envelope.correlation_id,
    )
    if isinstance(payload, BookInCommand):
        body = payload.body
        if body.person_id != envelope.person_id:
            raise ValueError("the command's key (person id) and body.person_id differ")
        await handlers.book_in(
            conn,
            audit,
            person_id=body.person_id,
            name=body.name,
            date_of_birth=body.date_of_birth,
            home_area=body.home_area,
            suite=body.suite,
            arrested_at=body.arrested_at,
            booked_in_at=body.booked_in_at or envelope.occurred_at,
            offences=[o.domain() for o in body.offences],
            check_force=_trusted,
            detention_id=detention_id_for(envelope.event_id),
        )
    elif isinstance(payload, DetentionCommand):
        model, build = ACTIONS[payload.action]
        action = build(model.model_validate(payload.body))
        await handlers.act(
            conn, audit, payload.detention_id, action, name=payload.action, check_force=_trusted
        )
    else:  # pragma: no cover - the registry admits only the two
        raise TypeError(type(payload).__name__)

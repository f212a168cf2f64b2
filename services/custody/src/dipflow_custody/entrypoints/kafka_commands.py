"""The consumer of ``custody.commands.v1``: applies each command in the inbox transaction.

A command that breaks a rule, names an unknown code, suite, drug or detention, or names another person's
detention than the one it is keyed by is refused for good: dead-lettered at once with the reason; the consumer
carries on. Each command's facts are recorded at their own time (the body's ``at``, else the envelope's
``occurred_at``), and the events it causes name it as their cause.
"""

from __future__ import annotations

import asyncpg

from dipflow.audit import Audit
from dipflow.auth import Principal, Role
from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Handler
from dipflow.events.errors import Rejected
from dipflow_custody import handlers
from dipflow_custody.commands import BookInCommand, DetentionCommand, detention_id_for
from dipflow_custody.domain.catalogue import UnknownOffence
from dipflow_custody.domain.detention import RuleViolation
from dipflow_custody.domain.drugs import UnknownDrug
from dipflow_custody.entrypoints.actions import COMMANDS, Reporter


def _trusted(_: str) -> None:
    """Custody systems on the command topic act for their own suites (enforced by topic ACLs)."""


def command_handler(pool: asyncpg.Pool, confirmation_working_days: int) -> Handler:
    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: EventPayload) -> None:
        try:
            await apply_command(conn, pool, envelope, payload, confirmation_working_days)
        except RuleViolation as exc:
            raise Rejected("rule-violation", f"{exc.rule_id}: {exc.reason}") from exc
        except UnknownDrug as exc:
            raise Rejected(
                "unknown-drug", f"unknown drug {exc.name!r}; known: {', '.join(exc.known)}"
            ) from exc
        except UnknownOffence as exc:
            raise Rejected("unknown-offence-code", f"unknown offence code {exc.code!r}") from exc
        except handlers.UnknownSuite as exc:
            raise Rejected("unknown-suite", f"unknown custody suite {exc.suite!r}") from exc
        except handlers.NotFound as exc:
            raise Rejected("unknown-detention", f"no detention {exc}") from exc
        except handlers.NotThisPersons as exc:
            raise Rejected(
                "key-mismatch",
                f"detention {exc} is not the keyed person's: a command is keyed by the person whose detention "
                "it names (the key orders one person's commands)",
            ) from exc

    return handle


async def apply_command(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    envelope: Envelope,
    payload: EventPayload,
    confirmation_working_days: int,
) -> None:
    system = f"system:{envelope.producer}"
    audit = Audit(
        pool=pool,
        principal=Principal(subject=system, role=Role.custody_officer, area="*"),
        correlation_id=envelope.correlation_id,
    )
    if isinstance(payload, BookInCommand):
        body = payload.body
        if body.person_id != envelope.person_id:
            raise Rejected("key-mismatch", "the command's key (person id) and body.person_id differ")
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
            check_area=_trusted,
            detention_id=detention_id_for(envelope.event_id),
            causation=envelope,
        )
    elif isinstance(payload, DetentionCommand):
        name = payload.canonical_action
        command = COMMANDS[name]
        reporter = Reporter(
            by=system,
            default_at=envelope.occurred_at,
            confirmation_working_days=confirmation_working_days,
            from_token=False,
        )
        action = command.build(command.body.model_validate(payload.body), reporter)
        await handlers.act(
            conn, audit, payload.detention_id, action, name=name, check_area=_trusted, causation=envelope
        )
    else:  # pragma: no cover - the registry admits only the two
        raise TypeError(type(payload).__name__)

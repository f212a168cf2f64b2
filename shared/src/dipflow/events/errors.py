"""Which failures are worth retrying (a server away for a while) and which are the message's fault."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from dipflow.db.database import CONFLICT_UNDONE
from dipflow.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation

TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    *CONFLICT_UNDONE,
    KafkaError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def as_refusal(exc: BaseException) -> Rejected | None:
    """An error that refuses a record for good, as the :class:`Rejected` it is dead-lettered as (its reason the
    ``dlq.reason``): ``Rejected`` itself, and the refusals of :mod:`dipflow.errors` (a rule, input the rules
    cannot act on, a record that does not exist, a conflict); None for anything else (retried, then
    dead-lettered as a handler that keeps failing)."""
    reason: str | None = None
    if isinstance(exc, Rejected):
        return exc
    if isinstance(exc, RuleViolation):
        reason = "rule-violation"
    elif isinstance(exc, InvalidInput | Forbidden | Conflict):
        reason = exc.kind
    elif isinstance(exc, NotFound):
        reason = "unknown-" + exc.what.replace(" ", "-")
    if reason is None:
        return None
    refusal = Rejected(reason, str(exc))
    refusal.__cause__ = exc
    return refusal


class Rejected(Exception):
    """Raised by a handler that refuses a record for good (it names another person's detention, breaks a rule,
    refers to something that does not exist): the consumer dead-letters it at once with ``reason`` as its
    ``dlq.reason`` and the message as ``dlq.message``, without retrying, and carries on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Backoff:
    """Exponential backoff with a ceiling: 0.1 s, 0.2 s, … up to ``ceiling_s``."""

    def __init__(self, first_s: float = 0.1, ceiling_s: float = 5.0) -> None:
        self.first_s = first_s
        self.ceiling_s = ceiling_s
        self.current = first_s

    def next(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.ceiling_s)
        return delay

    def reset(self) -> None:
        self.current = self.first_s


async def run_with_restarts(
    session: Callable[[], Awaitable[None]],
    *,
    event: str,
    log: Any,
    on_failure: Callable[[BaseException], None] | None = None,
    **context: Any,
) -> None:
    """Run ``session`` until cancelled; when it fails, log ``event``, back off and start it again."""
    backoff = Backoff()
    while True:
        try:
            await session()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if on_failure is not None:
                on_failure(exc)
            level = log.warning if is_transient(exc) else log.error
            level(event, error=type(exc).__name__, detail=str(exc)[:200], **context)
            await asyncio.sleep(backoff.next())
        else:
            backoff.reset()

"""Events that reach a service after it erased the person they name: they were on their way when the erasure
came (on another topic, or read by a group that was behind), and must not put the person back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import asyncpg

from dipflow.db.appends import batched_writes
from dipflow.events import Envelope
from dipflow.logging import get_logger
from dipflow.privacy.erasure import PersonEraser, erase_in_service
from dipflow.privacy.pseudonyms import Pseudonyms
from dipflow.uow import Producer, UnitOfWork

log = get_logger("dipflow.privacy")


class LateEvents:
    """What a consumer of a service with ``eraser`` does about events of erased people
    (:class:`~dipflow.events.consumer.ErasedPeople`): the events :func:`covered_by_erasure` are applied first,
    and their people erased once more, in the batch's transaction, as the erasure did."""

    def __init__(self, eraser: PersonEraser) -> None:
        self._eraser = eraser
        self._pseudonyms: Pseudonyms | None = None

    async def aliases(self, conn: asyncpg.Connection, people: Sequence[str]) -> list[str]:
        pseudonyms = await self._loaded(conn)
        return [pseudonyms.of(p) for p in people]

    def covered(self, events: Sequence[Envelope], erased: Mapping[str, datetime]) -> list[Envelope]:
        assert self._pseudonyms is not None, "aliases() is asked first"
        return covered_by_erasure(events, self._pseudonyms.of, erased)

    async def erase(self, conn: asyncpg.Connection, producer: Producer, people: Iterable[str]) -> None:
        pseudonyms = await self._loaded(conn)
        async with batched_writes(conn) as writes:
            uow = UnitOfWork(writes, producer)
            for person in sorted(people):
                rows = await erase_in_service(uow, self._eraser, person, pseudonyms)
                log.info("late_events_erased", rows=sum(rows.values()))

    async def _loaded(self, conn: asyncpg.Connection) -> Pseudonyms:
        """The key never changes once made, so it is read once."""
        if self._pseudonyms is None:
            self._pseudonyms = await Pseudonyms.load(conn)
        return self._pseudonyms


def covered_by_erasure(
    events: Iterable[Envelope], alias_of: Callable[[str], str], erased: Mapping[str, datetime]
) -> list[Envelope]:
    """The ``events`` that happened no later than their person's erasure was asked for (``erased``: pseudonym →
    that time). An erasure covers what happened before it, however late its event arrives: judged on when the
    event happened, not on when it was read. What happened after it (a new arrest) is new, and is kept."""
    return [
        e
        for e in events
        if (asked := erased.get(alias_of(e.person_id))) is not None and e.occurred_at <= asked
    ]

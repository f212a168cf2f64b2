"""T1: a process's areas never go back to before a change it has loaded, whatever order its reads end in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
import pytest

from dipflow.auth.principal import force_of, install_areas
from dipflow.reference_copy import reload_areas, reload_areas_after_change


def borough_of(force: str) -> list[dict[str, Any]]:
    return [{"code": "moved-borough", "versions": [{"effective_from": "2000-01-01", "force": force}]}]


class Copy:
    """A copy whose reads each wait for their own gate: the test decides when each one ends."""

    def __init__(self, *answers: tuple[asyncio.Event, list[dict[str, Any]]]) -> None:
        self.answers = iter(answers)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Copy]:
        yield self

    async def fetch(self, _sql: str) -> list[dict[str, Any]]:
        gate, records = next(self.answers)
        await gate.wait()
        return [{"record": r} for r in records]


@pytest.fixture(autouse=True)
def shipped_areas_afterwards() -> Iterator[None]:
    yield
    install_areas({})


async def test_t1_a_read_begun_before_a_change_and_ended_after_it_does_not_undo_it() -> None:
    before, after = asyncio.Event(), asyncio.Event()
    copy = cast(asyncpg.Pool, Copy((before, borough_of("old-force")), (after, borough_of("new-force"))))
    earlier = asyncio.create_task(reload_areas(copy))
    later = asyncio.create_task(reload_areas(copy))
    await asyncio.sleep(0)
    after.set()
    await later
    before.set()
    await earlier
    assert force_of("moved-borough") == "new-force"


class Unreachable:
    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        raise ConnectionRefusedError("the database went away after the commit")
        yield


async def test_t1_a_change_already_committed_is_answered_when_the_read_after_it_fails() -> None:
    install_areas({"moved-borough": "old-force"})
    assert not await reload_areas_after_change(cast(asyncpg.Pool, Unreachable()))
    assert force_of("moved-borough") == "old-force"  # the directory loads the change on its NOTIFY

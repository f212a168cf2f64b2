from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from dipflow.db.database import DATABASE_OPTIONS, server_dsn
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import TopicSpec
from tests.infra import Infra, provide_infra

# The tests run every service in one process on a shared machine: a slow moment there is not overload. Only the
# shedding tests (which set their own limits) shed; the others never answer 503 for the event loop's lag.
for _prefix in (
    "DIPFLOW_",
    "DIPFLOW_CUSTODY_",
    "DIPFLOW_REFERRAL_",
    "DIPFLOW_PPO_REGISTER_",
    "DIPFLOW_BREACH_",
):
    os.environ.setdefault(f"{_prefix}HTTP_MAX_LOOP_LAG_S", "30")
# Stopping a consumer over TLS waits for its fetch in flight, and the tests stop hundreds: a short idle fetch
# (500 ms outside the tests, where idle fetches cost CPU) keeps each stop short.
os.environ.setdefault("DIPFLOW_KAFKA_FETCH_WAIT_MS", "100")


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The real broker and database server for the whole session (see tests/infra.py)."""
    with provide_infra() as provided:
        yield provided


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def database_dsn(infra: Infra, unique: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"t_{unique}"
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" {DATABASE_OPTIONS}')
    finally:
        await admin.close()
    yield server_dsn(infra.postgres_dsn, name)
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def topic(infra: Infra, unique: str) -> str:
    """A fresh topic with three partitions, created explicitly."""
    name = f"test.{unique}.v1"
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(name, partitions=3)])
    return name

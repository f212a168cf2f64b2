from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dipflow.db import apply_migrations, connect_pool, load_migrations
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import TopicSpec
from tests.support.events import EFFECTS_TABLE


@pytest.fixture
async def service_pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with the platform tables (outbox, inbox, deadlines) and `effects`."""
    pool = await connect_pool(database_dsn, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await conn.execute(EFFECTS_TABLE)
    yield pool
    await pool.close()


@pytest.fixture
async def event_topic(infra: object, unique: str) -> str:
    """A fresh topic with its dead-letter twin."""
    spec = TopicSpec(f"test.{unique}.events.v1", partitions=3)
    await ensure_topics(infra.kafka_bootstrap, [spec, spec.dead_letter()])  # type: ignore[attr-defined]
    return spec.name

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dipflow.db import apply_migrations, load_migrations


@pytest.fixture
async def breach_pool(service_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with breach's tables."""
    async with service_pool.acquire() as conn:
        await apply_migrations(conn, load_migrations("dipflow_breach.migrations"))
    yield service_pool

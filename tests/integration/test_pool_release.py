"""A pool's connection goes back without a reset round trip when it did all its work in transactions, and is
reset (``UNLISTEN *``, advisory locks released) when it holds session state (dipflow.db.database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dipflow.db import connect_pool
from dipflow.db.database import keeps_session_state


@pytest.fixture
async def one_connection(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of one connection: every acquire gets the same one back."""
    pool = await connect_pool(database_dsn, min_size=1, max_size=1)
    yield pool
    await pool.close()


def logged(conn: asyncpg.Connection) -> list[str]:
    queries: list[str] = []
    conn.add_query_logger(lambda record: queries.append(record.query))
    return queries


async def test_a_connection_that_only_ran_transactions_goes_back_without_a_reset(
    one_connection: asyncpg.Pool,
) -> None:
    async with one_connection.acquire() as conn:
        queries = logged(conn)
        async with conn.transaction():
            await conn.fetchval("SELECT 1")
        reset = conn.get_reset_query()
    assert reset not in queries
    assert queries == ["BEGIN;", "SELECT 1", "COMMIT;"]


async def test_a_transaction_left_open_is_rolled_back_on_release(one_connection: asyncpg.Pool) -> None:
    async with one_connection.acquire() as conn:
        await conn.execute("CREATE TABLE notes (n int)")
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("INSERT INTO notes VALUES (1)")
    async with one_connection.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0


@pytest.mark.filterwarnings("ignore:.*active notification listener")
async def test_a_connection_that_listened_is_reset_on_release(one_connection: asyncpg.Pool) -> None:
    async with one_connection.acquire() as conn:
        await conn.add_listener("dipflow_test_channel", lambda *_: None)
        queries, reset = logged(conn), conn.get_reset_query()
    assert reset in queries
    async with one_connection.acquire() as conn:
        assert await conn.fetch("SELECT pg_listening_channels()") == []


async def test_a_connection_marked_for_a_session_lock_is_reset_on_release(
    one_connection: asyncpg.Pool, database_dsn: str
) -> None:
    async with one_connection.acquire() as conn:
        keeps_session_state(conn)
        await conn.execute("SELECT pg_advisory_lock(4242)")
    other = await asyncpg.connect(database_dsn)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock(4242)")
    finally:
        await other.close()

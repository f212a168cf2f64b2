"""Create a service's database on start and open its pool."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

DATABASE_OPTIONS = "TEMPLATE template0 LC_COLLATE 'C'"
"""How every service database is created (by provisioning, by a service allowed to create its own, by the tests):
its text compared byte by byte. Its text columns hold keys (ids, codes, consumer groups, timer kinds), never prose
sorted for a reader, so byte order is the right order, and PostgreSQL then compares index keys with ``memcmp``,
not the C library's ``strcoll``: about a tenth less server CPU per inbox and keyed row. Only a database made
from ``template0`` may take a collation other than the server's default."""


CONFLICT_UNDONE: tuple[type[Exception], ...] = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)
"""Errors by which PostgreSQL undoes a transaction to end a conflict with another: nothing of it was done, and
run again it can succeed (a consumer retries it in place; a request is answered 503 with ``Retry-After``)."""


def database_name(dsn: str) -> str:
    name = urlsplit(dsn).path.lstrip("/")
    if not name:
        raise ValueError("the database URL names no database")
    return name


def server_dsn(dsn: str, database: str = "postgres") -> str:
    """The same server and credentials, another database (by default the maintenance one)."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def ensure_database(dsn: str) -> bool:
    """Create the database named in ``dsn`` if it does not exist. Returns True when it was created."""
    name = database_name(dsn)
    if not _IDENTIFIER.match(name):
        raise ValueError(f"database name {name!r} is not a plain lower-case identifier")
    try:  # a service's own role may connect only to its own database, which provisioning made
        await (await asyncpg.connect(dsn)).close()
        return False
    except asyncpg.InvalidCatalogNameError:
        pass
    conn = await asyncpg.connect(server_dsn(dsn))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}" {DATABASE_OPTIONS}')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """A pool's connection that knows whether it holds session state: ``LISTEN`` (``add_listener``), or what
    :func:`keeps_session_state` marked (a session-level advisory lock)."""

    holds_session_state = False

    def mark_session_state(self) -> None:
        self.holds_session_state = True

    async def add_listener(self, channel: str, callback: Any) -> None:
        self.mark_session_state()
        await super().add_listener(channel, callback)


def keeps_session_state(conn: asyncpg.Connection) -> None:
    """Mark ``conn`` as holding state beyond its transactions, so the pool clears it when it is released (a
    pool hands out proxies: the mark is made by the connection behind it)."""
    mark = getattr(conn, "mark_session_state", None)
    if mark is not None:
        mark()


async def _reset_if_needed(conn: asyncpg.Connection) -> None:
    """Run when a connection goes back to the pool, after asyncpg rolled back any transaction left open.
    Only a connection that holds session state is reset (``UNLISTEN *``, advisory locks released, settings
    reset): the others did all their work in transactions, and resetting them was one more round trip per
    request, consumer batch and timer pass. So settings are changed with ``SET LOCAL``, never ``SET``."""
    if isinstance(conn, PooledConnection) and conn.holds_session_state:
        conn.holds_session_state = False
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)


async def connect_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections encode and decode json/jsonb with orjson, reset on release only when they hold
    session state (:func:`_reset_if_needed`)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        connection_class=PooledConnection,
        reset=_reset_if_needed,
        **kwargs,
    )
    assert pool is not None
    return pool


async def database_answers(pool: asyncpg.Pool, timeout_s: float = 2.0) -> bool:
    """True when a pooled connection answers ``SELECT 1`` within ``timeout_s``; any failure means no."""
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as conn:
                return bool(await conn.fetchval("SELECT 1") == 1)
    except Exception:
        return False

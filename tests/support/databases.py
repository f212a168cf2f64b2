"""What the tests read of a database itself, as opposed to its tables."""

from __future__ import annotations

import asyncpg


async def collation_of(conn: asyncpg.Connection) -> str:
    """The collation ``conn``'s database compares text by (``C``: byte by byte)."""
    return str(await conn.fetchval("SELECT datcollate FROM pg_database WHERE datname = current_database()"))

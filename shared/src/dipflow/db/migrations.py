"""A small migration runner: plain SQL files applied once, in order, recorded in a table.

Files are named ``NNNN_description.sql``. Each runs in its own transaction together with its row in
``schema_migrations``; a PostgreSQL advisory lock keeps two starting instances from racing. A file that
changed after it was applied is an error: migrations are append-only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import asyncpg

from dipflow.db.database import keeps_session_state

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x6D696772  # "migr"
_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(source: str | Path | Traversable) -> list[Migration]:
    """Read migrations from a directory, or from a package name (``dipflow_custody.migrations``)."""
    folder: Path | Traversable
    folder = resources.files(source) if isinstance(source, str) else source
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_description.sql")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number: {versions}")
    return found


async def apply_migrations(
    conn: asyncpg.Connection, migrations: list[Migration], *, table: str = "schema_migrations"
) -> list[str]:
    """Apply the migrations not yet recorded in ``table``; return the names applied now."""
    if not _TABLE.match(table):
        raise MigrationError(f"bad migrations table name {table!r}")
    applied_now: list[str] = []
    keeps_session_state(conn)  # the lock is the session's: released below, and on release to a pool
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {table} (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch(f"SELECT version, name, checksum FROM {table}")
        done = {r["version"]: r for r in rows}
        for migration in migrations:
            previous = done.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} changed after it was applied; add a new file instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    f"INSERT INTO {table} (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now

"""The migration runner against the real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from dipflow.db import MigrationError, apply_migrations, load_migrations
from dipflow.db.database import ensure_database, server_dsn
from dipflow.devstack.services import SERVICES
from tests.infra import Infra
from tests.support.databases import collation_of


def _write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def test_migrations_apply_once_and_are_queryable_through_asyncpg(
    database_dsn: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_people.sql", "CREATE TABLE people (id text PRIMARY KEY, area text);")
    _write(tmp_path, "0002_seed.sql", "INSERT INTO people VALUES ('P1', 'Camden'), ('P2', 'Brent');")
    conn = await asyncpg.connect(database_dsn)
    try:
        first = await apply_migrations(conn, load_migrations(tmp_path))
        second = await apply_migrations(conn, load_migrations(tmp_path))
        rows = await conn.fetch("SELECT id, area FROM people ORDER BY id")
        recorded = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert first == ["0001_people.sql", "0002_seed.sql"]
    assert second == []
    assert [tuple(r) for r in rows] == [("P1", "Camden"), ("P2", "Brent")]
    assert [tuple(r) for r in recorded] == [(1, "0001_people.sql"), (2, "0002_seed.sql")]


async def test_a_changed_migration_is_refused(database_dsn: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_t.sql", "CREATE TABLE t (id int);")
    conn = await asyncpg.connect(database_dsn)
    try:
        await apply_migrations(conn, load_migrations(tmp_path))
        _write(tmp_path, "0001_t.sql", "CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, load_migrations(tmp_path))
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_no_trace(database_dsn: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    _write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(database_dsn)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await apply_migrations(conn, load_migrations(tmp_path))
        versions = await conn.fetch("SELECT version FROM schema_migrations")
        half = await conn.fetchval("SELECT to_regclass('half')")
    finally:
        await conn.close()
    assert [r["version"] for r in versions] == [1]
    assert half is None


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
async def test_each_service_database_is_created_and_migrated(infra: Infra, unique: str, spec: object) -> None:
    from dipflow.devstack.services import ServiceSpec

    assert isinstance(spec, ServiceSpec)
    dsn = server_dsn(infra.postgres_dsn, f"{spec.database}_{unique}")
    assert await ensure_database(dsn) is True
    assert await ensure_database(dsn) is False
    conn = await asyncpg.connect(dsn)
    try:
        applied = await apply_migrations(conn, load_migrations(f"{spec.package}.migrations"))
        owner = await conn.fetchval("SELECT value FROM service_metadata WHERE key = 'service'")
        collation = await collation_of(conn)
    finally:
        await conn.close()
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE "{spec.database}_{unique}" WITH (FORCE)')
    finally:
        await admin.close()
    assert applied and applied[0] == "0001_baseline.sql"
    assert owner == spec.name
    assert collation == "C", "keys compared byte by byte"

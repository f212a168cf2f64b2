"""A service's own PostgreSQL role and database: what provisioning (devstack, tests, operators) does as the
superuser, so that the service itself never needs to be one."""

from __future__ import annotations

import asyncpg

from dipflow.db.database import DATABASE_OPTIONS, server_dsn


async def ensure_service_role(admin_dsn: str, *, role: str, password: str, database: str) -> None:
    """``role`` logs in with ``password``, may not create roles or databases and is no superuser; it owns
    ``database`` (created if missing), the only database it may connect to: nobody else but the superuser
    may connect there. Running it again only resets the password and the grants."""
    conn = await asyncpg.connect(server_dsn(admin_dsn))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        await _run(
            conn,
            f"{verb} ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
            role,
            password,
        )
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await _run(conn, f"CREATE DATABASE %I OWNER %I {DATABASE_OPTIONS}", database, role)
        await _run(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        await _run(conn, "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I", database, role)
        await conn.execute("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC")
    finally:
        await conn.close()


async def _run(conn: asyncpg.Connection, template: str, *identifiers_and_literals: str) -> None:
    """Quote with the server's own ``format()`` (%I identifiers, %L literals), then run."""
    statement = await conn.fetchval(
        "SELECT format($1, VARIADIC $2::text[])", template, list(identifiers_and_literals)
    )
    await conn.execute(statement)

"""Each service's own PostgreSQL role (dipflow.db.roles): it owns its database and migrates it, and reaches
nothing else on the server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from dipflow.db.database import server_dsn
from dipflow.db.migrations import apply_migrations, load_migrations
from dipflow.db.roles import ensure_service_role
from dipflow.devstack.services import SERVICES
from tests.infra import Infra
from tests.support.databases import collation_of


def _role_dsn(infra: Infra, role: str, password: str, database: str) -> str:
    server = server_dsn(infra.postgres_dsn).split("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{role}:{password}@{server}/{database}"


@pytest.fixture
async def roles(infra: Infra, unique: str) -> AsyncIterator[dict[str, str]]:
    """Every service's role and database, provisioned as the devstack does, under names unique to the test."""
    made = {spec.name: f"{spec.database}_{unique}" for spec in SERVICES}
    for name in made.values():
        await ensure_service_role(infra.postgres_dsn, role=name, password=f"pw-{name}", database=name)
    yield {service: _role_dsn(infra, name, f"pw-{name}", name) for service, name in made.items()}
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        for name in made.values():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await admin.close()


async def test_each_service_role_migrates_its_own_database_without_being_a_superuser(
    roles: dict[str, str],
) -> None:
    for spec in SERVICES:
        conn = await asyncpg.connect(roles[spec.name])
        try:
            applied = await apply_migrations(conn, load_migrations(f"{spec.package}.migrations"))
            me = await conn.fetchrow(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
            )
        finally:
            await conn.close()
        assert applied, spec.name
        assert me is not None and not any(me.values()), f"{spec.name} role: {dict(me or {})}"


async def test_each_service_database_compares_its_keys_byte_by_byte(roles: dict[str, str]) -> None:
    for spec in SERVICES:
        conn = await asyncpg.connect(roles[spec.name])
        try:
            collation = await collation_of(conn)
        finally:
            await conn.close()
        assert collation == "C", spec.name


async def test_a_service_role_cannot_connect_to_another_services_database(roles: dict[str, str]) -> None:
    custody, referral = roles["custody"], roles["referral"]
    conn = await asyncpg.connect(custody)
    try:
        await conn.execute("CREATE TABLE detention_secrets (person_id text)")
    finally:
        await conn.close()
    referral_into_custody = referral.rsplit("/", 1)[0] + "/" + custody.rsplit("/", 1)[1]
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
        await asyncpg.connect(referral_into_custody)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(server_dsn(referral, "postgres"))


async def test_a_service_role_cannot_give_itself_more(roles: dict[str, str]) -> None:
    conn = await asyncpg.connect(roles["breach"])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE DATABASE breach_copy")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE ROLE intruder LOGIN SUPERUSER")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET ROLE postgres")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT rolpassword FROM pg_authid")
    finally:
        await conn.close()


async def test_the_server_refuses_a_wrong_password(infra: Infra, roles: dict[str, str]) -> None:
    wrong = roles["custody"].replace(":pw-", ":nope-", 1)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)

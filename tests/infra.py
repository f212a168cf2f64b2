"""Where the tests' real Kafka broker and PostgreSQL server come from.

In order of preference:
1. ``TEST_KAFKA_BOOTSTRAP`` / ``TEST_POSTGRES_DSN`` (each on its own) name servers someone already runs;
2. a Docker engine that answers → testcontainers (official images);
3. otherwise the local servers of ``dipflow.devstack`` on free ports, in a throw-away folder.

A server that cannot be reached is an error, never a skip (with or without ``CI=true``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from dipflow.devstack import KafkaServer, PostgresServer, free_port
from dipflow.devstack.credentials import SUPERUSER, Credentials
from dipflow.devstack.paths import project_root
from dipflow.kafka.admin import wait_for_broker

ROOT = project_root()


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str  # the super user's address: tests create topics and read anything
    postgres_dsn: str  # the superuser on the maintenance database; tests create their own databases
    kafka: KafkaServer | None = None  # set when the tests own the broker (drills restart it)
    postgres: PostgresServer | None = None

    def kafka_as(self, principal: str) -> str:
        """The address of one of the ACL'd principals (a service's, a custody or probation system's)."""
        assert self.kafka is not None, "principals exist on the tests' own broker only"
        return self.kafka.address_for(principal)


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


async def _postgres_answers(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


@contextlib.contextmanager
def provide_infra() -> Iterator[Infra]:
    kafka_env = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    pg_env = os.environ.get("TEST_POSTGRES_DSN")
    with contextlib.ExitStack() as stack:
        use_docker = (not kafka_env or not pg_env) and docker_answers()
        workdir = ROOT / ".local" / "test-infra" / uuid.uuid4().hex[:12]
        stack.callback(shutil.rmtree, workdir, True)
        kafka_server: KafkaServer | None = None
        pg_server: PostgresServer | None = None

        if kafka_env:
            bootstrap = kafka_env
            asyncio.run(wait_for_broker(bootstrap, 30))
        elif use_docker:
            from testcontainers.kafka import KafkaContainer

            container = stack.enter_context(KafkaContainer("apache/kafka:4.1.1").with_kraft())
            bootstrap = container.get_bootstrap_server()
        else:
            kafka_server = KafkaServer.local(workdir / "kafka")
            kafka_server.start()
            stack.callback(kafka_server.stop)
            bootstrap = kafka_server.bootstrap

        if pg_env:
            dsn = pg_env
            asyncio.run(_postgres_answers(dsn))
        elif use_docker:
            from testcontainers.postgres import PostgresContainer

            pg = stack.enter_context(PostgresContainer("postgres:18", driver=None))
            dsn = pg.get_connection_url()
        else:
            pg_server = PostgresServer(
                workdir / "postgres",
                port=free_port(),
                durable=False,
                superuser_password=Credentials.ensure(workdir / "credentials.json").postgres[SUPERUSER],
            )
            pg_server.start()
            stack.callback(pg_server.stop)
            dsn = pg_server.dsn()

        yield Infra(bootstrap, dsn, kafka_server, pg_server)

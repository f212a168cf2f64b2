"""Kafka + PostgreSQL together, with the project's topics and one database per service."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dipflow.db.roles import ensure_service_role
from dipflow.devstack.credentials import SUPERUSER, Credentials
from dipflow.devstack.kafka import KafkaCluster, KafkaServer, fetch_kafka
from dipflow.devstack.paths import project_root
from dipflow.devstack.postgres import PostgresServer
from dipflow.devstack.principals import SYSTEMS
from dipflow.devstack.process import kill_group, pid_alive
from dipflow.devstack.services import SERVICES
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics

SERVICE_DATABASES = {spec.name: spec.database for spec in SERVICES}


@dataclass(frozen=True)
class StackAddresses:
    """Where the servers are. ``kafka_bootstrap`` and ``postgres_dsn`` are the administrators' (topics, ACLs,
    roles, tests, reconciliation); each service gets only its own principal and role."""

    kafka_bootstrap: str
    postgres_dsn: str
    kafka_pid: int
    postgres_pid: int
    service_kafka: dict[str, str] = field(default_factory=dict)
    service_postgres: dict[str, str] = field(default_factory=dict)
    systems_kafka: dict[str, str] = field(default_factory=dict)
    """The outside systems' principals (custody suites, probation), for the drill, the bench and the demo."""
    sender_keys: dict[str, str] = field(default_factory=dict)
    """The outside systems' signing keys (:mod:`dipflow.events.senders`); custody registers the suites' one."""

    def service_dsn(self, service: str) -> str:
        """The service's own role on its own database."""
        return self.service_postgres[service]

    def service_kafka_address(self, service: str) -> str:
        return self.service_kafka[service]


class LocalStack:
    """Starts (or finds already running) a broker and a database server under ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        kafka_port: int = 9092,
        controller_port: int = 9093,
        postgres_port: int = 55432,
        durable: bool = True,
        root: Path | None = None,
        kafka_nodes: int = 1,
        full_compiler: bool = False,
    ) -> None:
        """``kafka_nodes`` 3 runs a three-node cluster on free ports instead of the one broker (the drill's);
        ``full_compiler`` runs the brokers as production does (see :class:`KafkaServer`), for measurements."""
        self.root = root or project_root()
        self.state_dir = state_dir
        self.kafka: KafkaServer | KafkaCluster = (
            KafkaServer.local(
                state_dir / "kafka",
                port=kafka_port,
                controller_port=controller_port,
                root=self.root,
                fetch=False,
                full_compiler=full_compiler,
            )
            if kafka_nodes == 1
            else KafkaCluster.local(
                state_dir / "kafka",
                size=kafka_nodes,
                root=self.root,
                fetch=False,
                full_compiler=full_compiler,
            )
        )
        self.credentials = Credentials.ensure(state_dir / "credentials.json")
        self.postgres = PostgresServer(
            state_dir / "postgres",
            port=postgres_port,
            durable=durable,
            superuser_password=self.credentials.postgres[SUPERUSER],
        )

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"

    def running(self) -> StackAddresses | None:
        """The addresses of a stack a previous command left running here, if both servers still live."""
        try:
            found = StackAddresses(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if pid_alive(found.kafka_pid) and pid_alive(found.postgres_pid):
            return found
        return None

    def up(self, *, topic_prefix: str = "") -> StackAddresses:
        self.stop_leftovers()
        fetch_kafka(self.root)
        self.postgres.start()
        try:
            self.kafka.start()
            asyncio.run(self._provision(topic_prefix))
        except BaseException:
            self.down()
            raise
        assert self.kafka.process is not None and self.postgres.process is not None
        addresses = StackAddresses(
            kafka_bootstrap=self.kafka.bootstrap,
            postgres_dsn=self.postgres.dsn(),
            kafka_pid=self.kafka.process.pid,
            postgres_pid=self.postgres.process.pid,
            service_kafka={spec.name: self.kafka.address_for(spec.name) for spec in SERVICES},
            service_postgres={
                spec.name: self.postgres.role_dsn(
                    spec.database, self.credentials.postgres[spec.database], spec.database
                )
                for spec in SERVICES
            },
            systems_kafka={system: self.kafka.address_for(system) for system in SYSTEMS},
            sender_keys=dict(self.credentials.senders),
        )
        self.state_file.write_text(json.dumps(asdict(addresses)))
        self.state_file.chmod(0o600)
        return addresses

    async def _provision(self, topic_prefix: str) -> None:
        replication = self.kafka.replication
        await ensure_topics(self.kafka.bootstrap, all_topics(topic_prefix), replication_factor=replication)
        for spec in SERVICES:
            await ensure_service_role(
                self.postgres.dsn(),
                role=spec.database,
                password=self.credentials.postgres[spec.database],
                database=spec.database,
            )

    def detach(self) -> None:
        """Forget the processes so that they outlive this command (``down`` or ``stop_leftovers`` stop them)."""
        nodes = self.kafka.nodes if isinstance(self.kafka, KafkaCluster) else [self.kafka]
        for node in nodes:
            node.process = None
        self.postgres.process = None

    def down(self) -> None:
        self.kafka.stop()
        self.postgres.stop()
        self.stop_leftovers()

    def stop_leftovers(self) -> None:
        """Stop servers a previous, detached or crashed command left behind (recorded in stack.json)."""
        try:
            found = StackAddresses(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return
        for pid, sig in ((found.kafka_pid, signal.SIGTERM), (found.postgres_pid, signal.SIGINT)):
            if pid_alive(pid):
                kill_group(pid, sig)
                deadline = time.monotonic() + 30
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if pid_alive(pid):
                    kill_group(pid)
        self.state_file.unlink(missing_ok=True)

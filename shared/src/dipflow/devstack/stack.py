"""Kafka + PostgreSQL together, with the project's topics and one database per service."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dipflow.db.database import ensure_database
from dipflow.devstack.kafka import KafkaServer, fetch_kafka
from dipflow.devstack.paths import project_root
from dipflow.devstack.postgres import PostgresServer
from dipflow.devstack.process import kill_group, pid_alive
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics

SERVICE_DATABASES = {
    "custody": "custody",
    "referral": "referral",
    "ppo-register": "ppo_register",
    "breach": "breach",
}


@dataclass(frozen=True)
class StackAddresses:
    kafka_bootstrap: str
    postgres_dsn: str
    kafka_pid: int
    postgres_pid: int

    def service_dsn(self, service: str) -> str:
        base = self.postgres_dsn.rsplit("/", 1)[0]
        return f"{base}/{SERVICE_DATABASES[service]}"


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
    ) -> None:
        self.root = root or project_root()
        self.state_dir = state_dir
        self.kafka = KafkaServer.local(
            state_dir / "kafka", port=kafka_port, controller_port=controller_port, root=self.root, fetch=False
        )
        self.postgres = PostgresServer(state_dir / "postgres", port=postgres_port, durable=durable)

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
        )
        self.state_file.write_text(json.dumps(asdict(addresses)))
        return addresses

    async def _provision(self, topic_prefix: str) -> None:
        await ensure_topics(self.kafka.bootstrap, all_topics(topic_prefix))
        for database in SERVICE_DATABASES.values():
            await ensure_database(self.postgres.dsn(database))

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

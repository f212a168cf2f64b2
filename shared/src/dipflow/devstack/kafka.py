"""A single-node KRaft Kafka broker run from Maven Central jars."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dipflow.devstack.net import free_port, port_open
from dipflow.devstack.paths import kafka_libs, kafka_log4j, kafka_pom, project_root
from dipflow.devstack.process import ManagedProcess
from dipflow.kafka.admin import wait_for_broker

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


def ensure_kafka_jars(pom: Path, libs: Path) -> Path:
    """Resolve the broker's jars from Maven Central into ``libs`` once (cached; re-done when pom changes)."""
    stamp = libs / ".pom-stamp"
    wanted = pom.read_text()
    if stamp.exists() and stamp.read_text() == wanted and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to assemble Kafka from Maven Central; install it")
    if shutil.which("java") is None:
        raise RuntimeError("Java 17+ is needed to run Kafka; install a JDK")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return libs


def fetch_kafka(root: Path | None = None) -> Path:
    """The jars of this checkout's broker, assembled from Maven Central on first use."""
    root = root or project_root()
    return ensure_kafka_jars(kafka_pom(root), kafka_libs(root))


@dataclass
class KafkaServer:
    """One broker+controller on loopback. ``data_dir`` holds its config, logs and storage."""

    data_dir: Path
    libs: Path
    log4j_config: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    process: ManagedProcess | None = None

    @classmethod
    def local(
        cls,
        data_dir: Path,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        root: Path | None = None,
        fetch: bool = True,
    ) -> KafkaServer:
        """This checkout's broker in ``data_dir``, on free ports unless given; ``fetch`` assembles the jars now."""
        root = root or project_root()
        if fetch:
            fetch_kafka(root)
        return cls(
            data_dir=data_dir,
            libs=kafka_libs(root),
            log4j_config=kafka_log4j(root),
            port=port or free_port(),
            controller_port=controller_port or free_port(),
        )

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            "-cp",
            str(self.libs / "*"),
            *args,
        ]

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "6",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "min.insync.replicas": "1",
            "group.initial.rebalance.delay.ms": "0",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
        }
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))

    def format_storage(self) -> None:
        """Format KRaft storage once; an already formatted directory keeps its data."""
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cluster_id = subprocess.run(
            self._java(STORAGE_TOOL, "random-uuid"), check=True, capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(
            self._java(STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(self.properties_path)),
            check=True,
            capture_output=True,
        )

    def start(self, timeout_s: float = 90.0) -> None:
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise RuntimeError(f"port {port} is already in use; is another Kafka running?")
        self.write_config()
        self.format_storage()
        env = {**os.environ, "KAFKA_HEAP_OPTS": f"-Xmx{self.heap}"}
        self.process = ManagedProcess.start(
            "kafka",
            self._java(KAFKA_MAIN, str(self.properties_path)),
            log_path=self.data_dir / "kafka.log",
            env=env,
        )
        try:
            asyncio.run(_wait_alive(self, timeout_s))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM, timeout_s=30)
            self.process = None


async def _wait_alive(server: KafkaServer, timeout_s: float) -> None:
    waiter = asyncio.ensure_future(wait_for_broker(server.bootstrap, timeout_s))
    while not waiter.done():
        assert server.process is not None
        if not server.process.alive():
            waiter.cancel()
            raise RuntimeError("Kafka exited during start:\n" + server.process.tail())
        await asyncio.wait({waiter}, timeout=0.2)
    waiter.result()

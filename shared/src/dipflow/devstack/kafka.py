"""A single-node KRaft Kafka broker run from Maven Central jars."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from dipflow.devstack.credentials import Credentials
from dipflow.devstack.net import free_port, port_open
from dipflow.devstack.paths import kafka_libs, kafka_log4j, kafka_pom, project_root
from dipflow.devstack.principals import ADMIN, CONTROLLER, SUPER_USERS, all_acls
from dipflow.devstack.process import ManagedProcess, kill_group
from dipflow.devstack.tls import ServerTls, ensure_server_tls
from dipflow.kafka.acls import create_acls
from dipflow.kafka.admin import wait_for_broker
from dipflow.kafka.connection import MECHANISM, KafkaAddress

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
    credentials: Credentials | None = None
    """With credentials, clients must use TLS and SCRAM-SHA-512 and are held to the ACLs; without, PLAINTEXT."""
    tls: ServerTls | None = None
    node_id: int = 1
    voters: str | None = None
    """The controller quorum (``id@host:port,…``); this node alone when None."""
    replication: int = 1
    """Copies of each partition the cluster keeps (internal topics and the default); writes need
    ``min(2, replication)`` of them in sync."""
    cluster_id: str | None = None
    full_compiler: bool = False
    """The JVM's full compiler (C2), as a production broker runs, with AES-GCM first: about a quarter less broker
    CPU per event once warm (docs/runbook.md), for compiling in its first minutes. Without it, the quick
    compiler alone (C1) and ChaCha20 first: cheaper for the short-lived brokers of the tests."""
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
        secure: bool = True,
        full_compiler: bool = False,
    ) -> KafkaServer:
        """This checkout's broker in ``data_dir``, on free ports unless given; ``fetch`` assembles the jars now.
        ``secure`` (the default) keeps its credentials and TLS material beside ``data_dir``."""
        root = root or project_root()
        if fetch:
            fetch_kafka(root)
        return cls(
            data_dir=data_dir,
            libs=kafka_libs(root),
            log4j_config=kafka_log4j(root),
            port=port or free_port(),
            controller_port=controller_port or free_port(),
            credentials=Credentials.ensure(data_dir.parent / "credentials.json") if secure else None,
            tls=ensure_server_tls(data_dir.parent / "tls") if secure else None,
            full_compiler=full_compiler,
        )

    @property
    def servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def bootstrap(self) -> str:
        """The address of the super user ``admin`` (topics, ACLs, tests); PLAINTEXT when not secure."""
        return self.address_for(ADMIN)

    def address_for(self, principal: str) -> str:
        """The address a client authenticating as ``principal`` uses (see :mod:`dipflow.kafka.connection`)."""
        if self.credentials is None or self.tls is None:
            return self.servers
        password = self.credentials.kafka[principal]
        return str(KafkaAddress(self.servers, principal, password, str(self.tls.ca)))

    @property
    def properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    def _java(self, *args: str) -> list[str]:
        """The broker's JVM: the parallel collector, whose young collections of a small heap cost a 2-core
        machine about a tenth less broker CPU than G1's concurrent work and barriers (docs/runbook.md); the
        quick compiler alone unless ``full_compiler``."""
        return [
            "java",
            f"-Xmx{self.heap}",
            "-XX:+UseParallelGC",
            *(() if self.full_compiler else ("-XX:TieredStopAtLevel=1",)),
            f"-Dlog4j2.configurationFile={self.log4j_config}",
            "-cp",
            str(self.libs / "*"),
            *args,
        ]

    @property
    def min_in_sync(self) -> int:
        return min(2, self.replication)

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "6",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": str(self.replication),
            "offsets.topic.num.partitions": "12",
            "default.replication.factor": str(self.replication),
            "transaction.state.log.replication.factor": str(self.replication),
            "transaction.state.log.min.isr": str(self.min_in_sync),
            "min.insync.replicas": str(self.min_in_sync),
            "group.initial.rebalance.delay.ms": "0",
            "share.coordinator.state.topic.replication.factor": str(self.replication),
            "share.coordinator.state.topic.min.isr": str(self.min_in_sync),
        }
        if self.credentials is not None and self.tls is not None:
            props.update(
                secure_listeners(
                    self.port,
                    self.controller_port,
                    self.credentials,
                    self.tls,
                    suites=AES_FIRST if self.full_compiler else CHACHA_FIRST,
                )
            )
        self.properties_path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        os.chmod(self.properties_path, 0o600)

    def format_storage(self) -> None:
        """Format KRaft storage once; an already formatted directory keeps its data."""
        stamp = self.data_dir / "principals.stamp"
        principals = ",".join(sorted(self.credentials.kafka)) if self.credentials else "-"
        if (self.data_dir / "logs" / "meta.properties").exists():
            if stamp.exists() and stamp.read_text() == principals:
                return
            # formatted before authentication (or before a principal was added): SCRAM users are made at format
            shutil.rmtree(self.data_dir / "logs")
        cluster_id = self.cluster_id or new_cluster_id()
        users: list[str] = []
        for principal, password in sorted((self.credentials.kafka if self.credentials else {}).items()):
            if principal != CONTROLLER:
                users += ["--add-scram", f"{MECHANISM}=[name={principal},password={password}]"]
        subprocess.run(
            self._java(STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(self.properties_path), *users),
            check=True,
            capture_output=True,
        )
        stamp.write_text(principals)

    def start(self, timeout_s: float = 90.0) -> None:
        self.launch()
        try:
            self.wait_alive(timeout_s)
            if self.credentials is not None:
                asyncio.run(create_acls(self.bootstrap, all_acls()))
        except BaseException:
            self.stop()
            raise

    def launch(self) -> None:
        """Start the process without waiting (the nodes of a cluster start together: a quorum needs two)."""
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise RuntimeError(f"port {port} is already in use; is another Kafka running?")
        self.write_config()
        self.format_storage()
        env = {**os.environ, "KAFKA_HEAP_OPTS": f"-Xmx{self.heap}"}
        self.process = ManagedProcess.start(
            "kafka" if self.voters is None else f"kafka-{self.node_id}",
            self._java(KAFKA_MAIN, str(self.properties_path)),
            log_path=self.data_dir / "kafka.log",
            env=env,
        )

    def wait_alive(self, timeout_s: float = 90.0) -> None:
        asyncio.run(_wait_alive(self, timeout_s))

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, no leadership handed over first."""
        if self.process is not None:
            kill_group(self.process.pid)
            self.process.popen.wait(30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM, timeout_s=30)
            self.process = None


async def _wait_alive(server: KafkaServer, timeout_s: float) -> None:
    waiter = asyncio.ensure_future(wait_for_broker(server.address_for(ADMIN), timeout_s))
    while not waiter.done():
        assert server.process is not None
        if not server.process.alive():
            waiter.cancel()
            raise RuntimeError("Kafka exited during start:\n" + server.process.tail())
        await asyncio.wait({waiter}, timeout=0.2)
    try:
        waiter.result()
    except TimeoutError as error:
        assert server.process is not None
        raise TimeoutError(f"{error}; the broker's log ends:\n{server.process.tail()}") from error


CHACHA_FIRST = ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384")
"""TLS 1.3's AEAD suites, ChaCha20-Poly1305 first (the broker's choice, as the server), for a broker on the JVM's
quick compiler, where AES-GCM has no hardware intrinsics and costs five times what ChaCha20 does (23 against 115
MB/s on one core here)."""
AES_FIRST = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
"""The same suites, AES-GCM first, for a broker on the full compiler, which uses the AES instructions (1.3 GB/s)."""


def secure_listeners(
    port: int,
    controller_port: int,
    credentials: Credentials,
    tls: ServerTls,
    suites: tuple[str, ...] = CHACHA_FIRST,
) -> dict[str, str]:
    """Clients and brokers on SASL_SSL with SCRAM-SHA-512 (brokers as ``admin``), the controller quorum on
    SASL PLAIN as ``controller`` (KRaft cannot use SCRAM there), ACLs by the StandardAuthorizer."""
    admin, controller = credentials.kafka[ADMIN], credentials.kafka[CONTROLLER]
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return {
        "listeners": f"CLIENT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"CLIENT://127.0.0.1:{port}",
        "inter.broker.listener.name": "CLIENT",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.client.sasl.enabled.mechanisms": MECHANISM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            f'{scram} required username="{ADMIN}" password="{admin}";'
        ),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} required username="{CONTROLLER}" password="{controller}" user_{CONTROLLER}="{controller}";'
        ),
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(tls.keystore),
        "ssl.keystore.password": tls.keystore_password,
        "ssl.key.password": tls.keystore_password,
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
        "ssl.enabled.protocols": "TLSv1.3",
        "ssl.cipher.suites": ",".join(suites),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": ";".join(f"User:{name}" for name in SUPER_USERS),
        "allow.everyone.if.no.acl.found": "false",
    }


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what ``random-uuid`` prints),
    never starting with ``-`` (as Kafka's own ``Uuid.randomUuid``): the storage tool would read such an id,
    one in 64, as an option and fail to format."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaCluster:
    """``size`` brokers, each also a controller of one quorum, on loopback: every partition on every node
    (replication ``size``), writes acknowledged by two in sync, so one node may die without losing a write."""

    nodes: list[KafkaServer]

    @classmethod
    def local(
        cls,
        data_dir: Path,
        *,
        size: int = 3,
        root: Path | None = None,
        fetch: bool = True,
        full_compiler: bool = False,
    ) -> KafkaCluster:
        root = root or project_root()
        if fetch:
            fetch_kafka(root)
        credentials = Credentials.ensure(data_dir.parent / "credentials.json")
        tls = ensure_server_tls(data_dir.parent / "tls")
        ports = [(free_port(), free_port()) for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{controller}" for i, (_, controller) in enumerate(ports))
        cluster_id = new_cluster_id()
        nodes = [
            KafkaServer(
                data_dir=data_dir / f"node-{i + 1}",
                libs=kafka_libs(root),
                log4j_config=kafka_log4j(root),
                port=port,
                controller_port=controller,
                credentials=credentials,
                tls=tls,
                node_id=i + 1,
                voters=voters,
                replication=size,
                cluster_id=cluster_id,
                full_compiler=full_compiler,
            )
            for i, (port, controller) in enumerate(ports)
        ]
        return cls(nodes)

    @property
    def replication(self) -> int:
        return len(self.nodes)

    @property
    def servers(self) -> str:
        return ",".join(node.servers for node in self.nodes)

    @property
    def bootstrap(self) -> str:
        return self.address_for(ADMIN)

    @property
    def process(self) -> ManagedProcess | None:
        """The first node's process (what stack.json records)."""
        return self.nodes[0].process

    def address_for(self, principal: str) -> str:
        first = KafkaAddress.parse(self.nodes[0].address_for(principal))
        return str(replace(first, servers=self.servers))

    def node(self, node_id: int) -> KafkaServer:
        return next(node for node in self.nodes if node.node_id == node_id)

    def start(self, timeout_s: float = 120.0) -> None:
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_alive(timeout_s)
            asyncio.run(create_acls(self.bootstrap, all_acls()))
        except BaseException:
            self.stop()
            raise

    def restart(self, node_id: int, timeout_s: float = 120.0) -> None:
        node = self.node(node_id)
        node.launch()
        node.wait_alive(timeout_s)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

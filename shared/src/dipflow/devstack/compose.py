"""What docker-compose.yml needs that must not be committed: generated into ``.local/compose`` by
``dipflow infra compose-secrets`` (``make compose-secrets``), read by compose through ``env_file`` and mounts.

- ``<service>.env``: the service's own Kafka principal and database role, nothing of the others';
- ``topics.env``: the administrator's address, for the job that creates the topics and the ACLs;
- ``postgres.env`` and ``postgres/init.sql``: the superuser's password and one role owning each database;
- ``kafka/``: the broker's properties (SASL_SSL with SCRAM-SHA-512, ACLs), its start script (SCRAM users made
  when the storage is formatted), the ACL table and the administrator's client properties for the health check;
- ``tls/``: the certificate authority and the broker's keystore.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path

from dipflow.db.database import DATABASE_OPTIONS
from dipflow.devstack.credentials import SUPERUSER, Credentials
from dipflow.devstack.kafka import AES_FIRST, new_cluster_id, secure_listeners
from dipflow.devstack.principals import ADMIN, CONTROLLER, CUSTODY_SYSTEM, all_acls
from dipflow.devstack.services import SERVICES
from dipflow.devstack.tls import ensure_server_tls
from dipflow.kafka.connection import MECHANISM, KafkaAddress, java_client_properties

MOUNT = "/run/dipflow"
BROKER = "kafka:19092"
DATABASE_HOST = "postgres:5432"


def write_compose_secrets(folder: Path) -> list[Path]:
    """Generate (or keep) the credentials and write every file compose reads; returns the files written."""
    credentials = Credentials.ensure(folder / "credentials.json")
    tls = ensure_server_tls(folder / "tls")
    files: dict[str, str] = {}

    def address(principal: str) -> str:
        password = credentials.kafka[principal]
        return str(KafkaAddress(BROKER, principal, password, f"{MOUNT}/tls/ca.pem"))

    for spec in SERVICES:
        password = credentials.postgres[spec.database]
        env = {
            f"{spec.env_prefix}DATABASE_URL": f"postgresql://{spec.database}:{password}@{DATABASE_HOST}/{spec.database}",
            f"{spec.env_prefix}KAFKA_BOOTSTRAP": address(spec.name),
        }
        if spec.name == "custody":
            senders = {CUSTODY_SYSTEM: {"key": credentials.senders[CUSTODY_SYSTEM], "areas": ["*"]}}
            env[f"{spec.env_prefix}COMMAND_SENDERS"] = json.dumps(senders)
        files[f"{spec.name}.env"] = _env(env)
    files["topics.env"] = _env(
        {"DIPFLOW_KAFKA_BOOTSTRAP": address(ADMIN), "DIPFLOW_KAFKA_ACLS": f"{MOUNT}/kafka/acls.json"}
    )
    files["postgres.env"] = _env(
        {"POSTGRES_USER": SUPERUSER, "POSTGRES_PASSWORD": credentials.postgres[SUPERUSER]}
    )
    files["postgres/init.sql"] = "".join(
        f"CREATE ROLE {spec.database} LOGIN PASSWORD '{credentials.postgres[spec.database]}' "
        "NOSUPERUSER NOCREATEDB NOCREATEROLE;\n"
        f"CREATE DATABASE {spec.database} OWNER {spec.database} {DATABASE_OPTIONS};\n"
        f"REVOKE ALL ON DATABASE {spec.database} FROM PUBLIC;\n"
        f"GRANT CONNECT, TEMPORARY ON DATABASE {spec.database} TO {spec.database};\n"
        for spec in SERVICES
    )
    files["kafka/server.properties"] = _properties(broker_properties(credentials, folder))
    files["kafka/start.sh"] = start_script(credentials, folder)
    files["kafka/acls.json"] = json.dumps([asdict(acl) for acl in all_acls()], indent=1)
    files["kafka/admin.properties"] = java_client_properties(address(ADMIN))
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)  # read by the containers' own users; the folder is ignored by git
        written.append(path)
    for path in (tls.keystore, folder / "tls" / "server.p12.password"):
        path.chmod(0o644)
    return written


def broker_properties(credentials: Credentials, folder: Path) -> dict[str, str]:
    """One KRaft node: SASL_SSL for the other containers (``kafka:19092``) and the host (``localhost:9092``)."""
    tls = ensure_server_tls(folder / "tls")
    # The image runs the stock JVM, on the full compiler: AES-GCM first, as a production broker.
    secure = secure_listeners(19092, 9093, credentials, tls, suites=AES_FIRST)
    mounted = {k: v.replace(str(folder), MOUNT) for k, v in secure.items()}
    scram = mounted.pop("listener.name.client.scram-sha-512.sasl.jaas.config")
    return {
        **{
            k: v
            for k, v in mounted.items()
            if not k.startswith(("listeners", "advertised", "listener.security"))
        },
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": "1@kafka:9093",
        "controller.listener.names": "CONTROLLER",
        "listeners": "CLIENT://:19092,HOST://:9092,CONTROLLER://:9093",
        "advertised.listeners": "CLIENT://kafka:19092,HOST://localhost:9092",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,HOST:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        "listener.name.client.scram-sha-512.sasl.jaas.config": scram,
        "listener.name.host.sasl.enabled.mechanisms": MECHANISM,
        "listener.name.host.scram-sha-512.sasl.jaas.config": scram,
        "log.dirs": "/var/lib/kafka/data",
        "num.partitions": "6",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }


def start_script(credentials: Credentials, folder: Path) -> str:
    users = " ".join(
        shlex.quote(f"--add-scram={MECHANISM}=[name={name},password={password}]")
        for name, password in sorted(credentials.kafka.items())
        if name != CONTROLLER
    )
    cluster_file = folder / "kafka" / "cluster.id"
    if not cluster_file.exists():
        cluster_file.parent.mkdir(parents=True, exist_ok=True)
        cluster_file.write_text(new_cluster_id())
    properties = f"{MOUNT}/kafka/server.properties"
    return (
        "#!/bin/bash\n# Generated by `dipflow infra compose-secrets`; do not edit.\nset -euo pipefail\n"
        "if [ ! -f /var/lib/kafka/data/meta.properties ]; then\n"
        f"  /opt/kafka/bin/kafka-storage.sh format -t {cluster_file.read_text()} -c {properties} {users}\n"
        "fi\n"
        f"exec /opt/kafka/bin/kafka-server-start.sh {properties}\n"
    )


def _env(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())

"""The four services as ``make run`` starts them: module, fixed port, settings prefix."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dipflow.devstack.process import ManagedProcess

if TYPE_CHECKING:
    from dipflow.devstack.stack import StackAddresses

CUSTODY_SYSTEM = "custody-system"
REPLICA_PORT_STEP = 10


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    port: int
    env_prefix: str
    database: str

    def url(self, port_offset: int = 0, replica: int = 1) -> str:
        return f"http://127.0.0.1:{self.replica_port(port_offset, replica)}"

    def replica_port(self, port_offset: int = 0, replica: int = 1) -> int:
        """Replica 1 on the service's own port, replica k ten ports on per step (custody 8001, 8011, 8021…)."""
        return self.port + port_offset + REPLICA_PORT_STEP * (replica - 1)

    def replica_name(self, replica: int) -> str:
        return self.name if replica == 1 else f"{self.name}-{replica}"

    def environment(self, addresses: StackAddresses) -> dict[str, str]:
        """The service's own Kafka principal and database role (never the administrators'); custody also
        registers the custody suites' system, acting for every area, as the one sender of its commands."""
        env = {
            f"{self.env_prefix}DATABASE_URL": addresses.service_dsn(self.name),
            f"{self.env_prefix}KAFKA_BOOTSTRAP": addresses.service_kafka_address(self.name),
        }
        if self.name == "custody" and CUSTODY_SYSTEM in addresses.sender_keys:
            senders = {CUSTODY_SYSTEM: {"key": addresses.sender_keys[CUSTODY_SYSTEM], "areas": ["*"]}}
            env[f"{self.env_prefix}COMMAND_SENDERS"] = json.dumps(senders)
        return env


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("custody", "dipflow_custody", 8001, "DIPFLOW_CUSTODY_", "custody"),
    ServiceSpec("referral", "dipflow_referral", 8002, "DIPFLOW_REFERRAL_", "referral"),
    ServiceSpec("ppo-register", "dipflow_ppo_register", 8003, "DIPFLOW_PPO_REGISTER_", "ppo_register"),
    ServiceSpec("breach", "dipflow_breach", 8004, "DIPFLOW_BREACH_", "breach"),
)


def start_service(
    spec: ServiceSpec,
    addresses: StackAddresses,
    *,
    log_dir: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    replica: int = 1,
) -> ManagedProcess:
    """Run one service under uvicorn as a child process in its own session. Replicas of a service run with the
    same settings, so they share its database, consumer groups, relay (one active at a time) and timers."""
    env = {
        **os.environ,
        **spec.environment(addresses),
        **(extra_env or {}),
    }
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"{spec.package}.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port or spec.replica_port(0, replica)),
        "--no-access-log",
        "--timeout-keep-alive",  # longer than clients keep idle connections: a late timer must not close a request
        "75",
        "--timeout-graceful-shutdown",
        "10",
    ]
    name = spec.replica_name(replica)
    return ManagedProcess.start(name, argv, log_path=log_dir / f"{name}.log", env=env)

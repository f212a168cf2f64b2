"""The four services as ``make run`` starts them: module, fixed port, settings prefix."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dipflow.devstack.process import ManagedProcess


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    port: int
    env_prefix: str
    database: str

    def url(self, port_offset: int = 0) -> str:
        return f"http://127.0.0.1:{self.port + port_offset}"

    def environment(self, kafka_bootstrap: str, postgres_dsn: str) -> dict[str, str]:
        server = postgres_dsn.rsplit("/", 1)[0]
        return {
            f"{self.env_prefix}DATABASE_URL": f"{server}/{self.database}",
            f"{self.env_prefix}KAFKA_BOOTSTRAP": kafka_bootstrap,
        }


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("custody", "dipflow_custody", 8001, "DIPFLOW_CUSTODY_", "custody"),
    ServiceSpec("referral", "dipflow_referral", 8002, "DIPFLOW_REFERRAL_", "referral"),
    ServiceSpec("ppo-register", "dipflow_ppo_register", 8003, "DIPFLOW_PPO_REGISTER_", "ppo_register"),
    ServiceSpec("breach", "dipflow_breach", 8004, "DIPFLOW_BREACH_", "breach"),
)


def start_service(
    spec: ServiceSpec,
    *,
    kafka_bootstrap: str,
    postgres_dsn: str,
    log_dir: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> ManagedProcess:
    """Run one service under uvicorn as a child process in its own session."""
    env = {
        **os.environ,
        **spec.environment(kafka_bootstrap, postgres_dsn),
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
        str(port or spec.port),
        "--no-access-log",
        "--timeout-keep-alive",  # longer than clients keep idle connections: a late timer must not close a request
        "75",
        "--timeout-graceful-shutdown",
        "10",
    ]
    return ManagedProcess.start(spec.name, argv, log_path=log_dir / f"{spec.name}.log", env=env)

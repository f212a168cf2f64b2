"""The whole system as `make run` starts it (real processes, real Kafka and PostgreSQL) for journey tests,
which drive it only through the services' public APIs and topics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dipflow.auth import Role, mint_token
from dipflow.devstack.offsets import launch_run, run_output, stop_run
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES
from tests.support.waiting import until

__all__ = ["System", "start_system", "until"]

ROOT = project_root()


@dataclass
class System:
    state: Path
    offset: int
    kafka_bootstrap: str

    def url(self, service: str) -> str:
        return next(s.url(self.offset) for s in SERVICES if s.name == service)

    @property
    def keycloak(self) -> str:
        """The development realm's issuer when `dipflow run --keycloak` started it."""
        return f"http://127.0.0.1:{8180 + self.offset}/realms/dipflow"

    def token(self, role: Role, area: str, worker_id: str | None = None) -> dict[str, str]:
        secret = (self.state / "auth-dev-secret").read_text().strip()
        token = mint_token(
            secret, subject=f"{role}-{worker_id or area}", role=role, area=area, worker_id=worker_id
        )
        return {"Authorization": f"Bearer {token}"}


def start_system(state: Path, *, keycloak: bool = False) -> Iterator[System]:
    """Run `dipflow run` (what `make run` runs, with Keycloak when asked) and wait until every service is ready;
    SIGINT at the end."""
    command, offset = launch_run(state, cwd=ROOT, keycloak=keycloak)
    try:
        addresses = json.loads((state / "stack.json").read_text())
        yield System(state, offset, addresses["kafka_bootstrap"])
    finally:
        returncode = stop_run(command)
        assert returncode == 0, run_output(state).read_text(errors="replace")[-3000:]

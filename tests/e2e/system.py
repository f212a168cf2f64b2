"""The whole system as `make run` starts it (real processes, real Kafka and PostgreSQL) for journey tests,
which drive it only through the services' public APIs and topics."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from dipflow.auth import Role, mint_token
from dipflow.devstack.offsets import answers_ready, free_port_offset
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES
from tests.support.waiting import until

__all__ = ["System", "launch", "start_system", "until"]

ROOT = project_root()


@dataclass
class System:
    state: Path
    offset: int
    kafka_bootstrap: str

    def url(self, service: str) -> str:
        return next(s.url(self.offset) for s in SERVICES if s.name == service)

    def token(self, role: Role, area: str, worker_id: str | None = None) -> dict[str, str]:
        secret = (self.state / "auth-dev-secret").read_text().strip()
        token = mint_token(
            secret, subject=f"{role}-{worker_id or area}", role=role, area=area, worker_id=worker_id
        )
        return {"Authorization": f"Bearer {token}"}


def launch(state: Path, attempts: int = 3) -> tuple[subprocess.Popen[str], int]:
    """Start `dipflow run` on a free port range. A port can be taken between the check and the bind (outgoing
    connections use the same range), so a start that fails on "Address already in use" is tried again on
    another range."""
    for attempt in range(attempts):
        offset = free_port_offset()
        command = subprocess.Popen(
            [sys.executable, "-m", "dipflow.cli", "run", "--state-dir", str(state), "--port-offset", str(offset)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        with httpx.Client(timeout=2) as client:
            deadline = time.monotonic() + 180
            while command.poll() is None and time.monotonic() < deadline:
                if all(answers_ready(client, spec.url(offset)) for spec in SERVICES):
                    return command, offset
                time.sleep(0.2)
        output = command.stdout.read() if command.poll() is not None and command.stdout else ""
        if command.poll() is None or "Address already in use" not in output or attempt == attempts - 1:
            command.send_signal(signal.SIGINT)
            rest, _ = command.communicate(timeout=120)
            raise AssertionError(f"`dipflow run` did not get ready:\n{(output + rest)[-4000:]}")
    raise AssertionError("unreachable")


def start_system(state: Path) -> Iterator[System]:
    """Run `dipflow run` (what `make run` runs) and wait until every service is ready; SIGINT at the end."""
    command, offset = launch(state)
    try:
        addresses = json.loads((state / "stack.json").read_text())
        yield System(state, offset, addresses["kafka_bootstrap"])
    finally:
        command.send_signal(signal.SIGINT)
        output, _ = command.communicate(timeout=120)
        assert command.returncode == 0, output[-3000:]

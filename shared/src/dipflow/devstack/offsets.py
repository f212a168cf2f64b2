"""A second copy of the whole system (`dipflow run --port-offset N`) on a free port range, for the end-to-end
tests and the load bench: started, waited for, stopped."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dipflow.devstack.net import port_open
from dipflow.devstack.services import SERVICES
from dipflow.devstack.web import WEB


def free_port_offset() -> int:
    """An offset at which Kafka, PostgreSQL, the four services, the web pages and Keycloak all find their ports
    free."""
    for _ in range(50):
        offset = random.randrange(1_000, 9_000, 10)  # noqa: S311 - a port range, not a secret
        ports = [9092, 9093, 55432, 8180, 9180, WEB.port, *(s.port for s in SERVICES)]
        if not any(port_open(p + offset) for p in ports):
            return offset
    raise RuntimeError("no free port range")


def answers_ready(client: httpx.Client, url: str) -> bool:
    """``GET {url}/readyz`` answers 200."""
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def launch_run(
    state: Path, *, cwd: Path, attempts: int = 3, ready_within_s: float = 180, keycloak: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``dipflow run`` on a free port range, its output appended to ``state/dipflow-run.out``, and
    return once every service's ``/readyz`` answers 200. A port can be taken between the check and the bind
    (outgoing connections use the same range), so a start that fails on "Address already in use" is tried
    again on another range."""
    state.mkdir(parents=True, exist_ok=True)
    log = run_output(state)
    for attempt in range(attempts):
        offset = free_port_offset()
        written = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            command = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dipflow.cli",
                    "run",
                    "--state-dir",
                    str(state),
                    "--port-offset",
                    str(offset),
                    "--keycloak" if keycloak else "--no-keycloak",
                ],
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        with httpx.Client(timeout=2) as client:
            deadline = time.monotonic() + ready_within_s
            while command.poll() is None and time.monotonic() < deadline:
                if all(answers_ready(client, spec.url(offset)) for spec in SERVICES):
                    return command, offset
                time.sleep(0.2)
        stop_run(command)
        output = log.read_bytes()[written:].decode(errors="replace")
        if "Address already in use" not in output or attempt == attempts - 1:
            raise RuntimeError(f"`dipflow run` did not get ready:\n{output[-4000:]}")
    raise AssertionError("unreachable")


def run_output(state: Path) -> Path:
    return state / "dipflow-run.out"


def stop_run(command: subprocess.Popen[bytes]) -> int:
    """Ctrl-C (it stops the services, then Kafka, then PostgreSQL); killed if it takes over two minutes."""
    if command.poll() is None:
        command.send_signal(signal.SIGINT)
        try:
            command.wait(120)
        except subprocess.TimeoutExpired:
            command.kill()
            command.wait(10)
    return command.returncode

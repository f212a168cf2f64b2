"""The web pages (``dipflow_web``) as ``make run`` starts them: port 8005, calling the four services.

Kept apart from ``SERVICES``, which lists the event-driven services (their databases, topics and event
modules); the web app has none of those."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dipflow.devstack.process import ManagedProcess
from dipflow.devstack.services import SERVICES


@dataclass(frozen=True)
class WebSpec:
    name: str = "web"
    package: str = "dipflow_web"
    port: int = 8005

    def url(self, port_offset: int = 0) -> str:
        return f"http://127.0.0.1:{self.port + port_offset}"

    def environment(self, port_offset: int = 0) -> dict[str, str]:
        """Where the services are: ``DIPFLOW_WEB_CUSTODY_URL`` and so on."""
        return {
            f"DIPFLOW_WEB_{spec.name.upper().replace('-', '_')}_URL": spec.url(port_offset)
            for spec in SERVICES
        }


WEB = WebSpec()


def start_web(
    *, log_dir: Path, port_offset: int = 0, extra_env: dict[str, str] | None = None, spec: WebSpec = WEB
) -> ManagedProcess:
    """Run the web app under uvicorn as a child process in its own session."""
    env = {**os.environ, **spec.environment(port_offset), **(extra_env or {})}
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"{spec.package}.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(spec.port + port_offset),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
    ]
    return ManagedProcess.start(spec.name, argv, log_path=log_dir / f"{spec.name}.log", env=env)

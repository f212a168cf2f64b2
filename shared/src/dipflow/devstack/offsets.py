"""A free port range for a second copy of the whole system (`dipflow run --port-offset N`), and readiness."""

from __future__ import annotations

import random

import httpx

from dipflow.devstack.net import port_open
from dipflow.devstack.services import SERVICES
from dipflow.devstack.web import WEB


def free_port_offset() -> int:
    """An offset at which Kafka, PostgreSQL, the four services and the web pages all find their ports free."""
    for _ in range(50):
        offset = random.randrange(1_000, 9_000, 10)  # noqa: S311 - a port range, not a secret
        ports = [9092, 9093, 55432, WEB.port, *(s.port for s in SERVICES)]
        if not any(port_open(p + offset) for p in ports):
            return offset
    raise RuntimeError("no free port range")


def answers_ready(client: httpx.Client, url: str) -> bool:
    """``GET {url}/readyz`` answers 200."""
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False

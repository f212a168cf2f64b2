"""A secure Kafka broker of a test module's own, for tests whose records must reach no other test (or whose new
consumer groups must not read every other test's history first)."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator

from dipflow.devstack import KafkaServer
from dipflow.devstack.paths import project_root


@contextlib.contextmanager
def own_broker(label: str) -> Iterator[KafkaServer]:
    """Started in a throw-away folder under .local/test-infra, stopped and removed afterwards."""
    workdir = project_root() / ".local" / "test-infra" / f"{label}-{uuid.uuid4().hex[:10]}"
    server = KafkaServer.local(workdir / "kafka")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

"""Start a throw-away Kafka broker and PostgreSQL server on free ports under ``.local/bench-infra/``.

``KafkaServer.start()`` and ``PostgresServer.start()`` run their own ``asyncio.run``, so this is entered
before the benchmark's event loop starts.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dipflow.devstack import KafkaServer, PostgresServer, free_port
from dipflow.devstack.paths import project_root

ROOT = project_root()


@dataclass(frozen=True)
class BenchInfra:
    bootstrap: str
    server_dsn: str  # maintenance database; the bench creates its own
    kafka_version: str


@contextlib.contextmanager
def bench_infra(*, durable: bool) -> Iterator[BenchInfra]:
    workdir = ROOT / ".local" / "bench-infra" / uuid.uuid4().hex[:12]
    with contextlib.ExitStack() as stack:
        stack.callback(_remove_if_empty, workdir.parent)  # registered first, so these run last
        stack.callback(shutil.rmtree, workdir, True)
        kafka = KafkaServer.local(workdir / "kafka")
        kafka.start()
        stack.callback(kafka.stop)
        postgres = PostgresServer(workdir / "postgres", port=free_port(), durable=durable)
        postgres.start()
        stack.callback(postgres.stop)
        yield BenchInfra(kafka.bootstrap, postgres.dsn(), _kafka_version(kafka.libs))


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # another run may still use it
        folder.rmdir()


def _kafka_version(libs: Path) -> str:
    jars = sorted(libs.glob("kafka_2.13-*.jar"))
    return jars[0].stem.removeprefix("kafka_2.13-") if jars else "unknown"

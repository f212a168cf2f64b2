"""`make run` end to end: the real command brings up Kafka, PostgreSQL and the four services, every
/readyz answers 200, and Ctrl-C (SIGINT) leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from dipflow.devstack.net import port_open
from dipflow.devstack.offsets import launch_run, run_output, stop_run
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES

ROOT = project_root()


def _processes_mentioning(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline:
            found.append(proc)
    return found


async def _service_connections(admin_dsn: str) -> set[tuple[str, str, bool]]:
    """(database, role, is the role a superuser) for every connection to a service's database."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            """
            SELECT a.datname, a.usename, r.rolsuper
            FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
            WHERE a.datname = ANY($1::text[]) AND a.pid <> pg_backend_pid()
            """,
            [spec.database for spec in SERVICES],
        )
    finally:
        await conn.close()
    return {(row["datname"], row["usename"], row["rolsuper"]) for row in rows}


async def _collations(admin_dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT datname, datcollate FROM pg_database WHERE datname = ANY($1::text[])",
            [spec.database for spec in SERVICES],
        )
    finally:
        await conn.close()
    return {row["datname"]: row["datcollate"] for row in rows}


async def _server_settings(admin_dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
            [
                "fsync",
                "synchronous_commit",
                "full_page_writes",
                "max_wal_size",
                "checkpoint_timeout",
                "random_page_cost",
            ],
        )
    finally:
        await conn.close()
    return {row["name"]: row["setting"] + (row["unit"] or "") for row in rows}


def test_run_starts_everything_ready_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "run"
    command, offset = launch_run(state, cwd=ROOT)
    try:
        with httpx.Client(timeout=2) as client:
            ready: dict[str, dict[str, Any]] = {
                spec.name: client.get(f"{spec.url(offset)}/readyz").json() for spec in SERVICES
            }
            docs = client.get(f"{SERVICES[0].url(offset)}/docs")
            minted = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dipflow.cli",
                    "token",
                    "--role",
                    "admin",
                    "--area",
                    "*",
                    "--state-dir",
                    str(state),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout.strip()
            for spec in SERVICES:
                audit = client.get(
                    f"{spec.url(offset)}/v1/audit", headers={"Authorization": f"Bearer {minted}"}
                )
                assert audit.status_code == 200, audit.text
                assert client.get(f"{spec.url(offset)}/v1/audit").status_code == 401
        for body in ready.values():
            assert {"db", "broker"} <= set(body["checks"]) and set(body["checks"].values()) == {"ok"}
        assert docs.status_code == 200
        started = json.loads((state / "stack.json").read_text())
        connected = asyncio.run(_service_connections(started["postgres_dsn"]))
        settings = asyncio.run(_server_settings(started["postgres_dsn"]))
        collations = asyncio.run(_collations(started["postgres_dsn"]))
        marker = str(state)
        assert _processes_mentioning(marker), "Kafka and PostgreSQL run from the state folder"
    finally:
        returncode = stop_run(command)
        output = run_output(state).read_text(errors="replace")

    assert returncode == 0, output
    # durable, checkpoints spaced and index reads priced as docs/runbook.md asks of a service database
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "max_wal_size": "16384MB",
        "checkpoint_timeout": "900s",
        "random_page_cost": "1.1",
    }
    assert collations == {spec.database: "C" for spec in SERVICES}, "keys compared byte by byte"
    assert {database for database, _, _ in connected} == {spec.database for spec in SERVICES}
    for database, role, superuser in connected:
        assert role == database and not superuser, f"{role} on {database} (superuser: {superuser})"
    for spec in SERVICES:
        assert f"{spec.url(offset)}/docs" in output
    assert "Everything this command started has stopped." in output
    assert not psutil.pid_exists(started["kafka_pid"])
    assert not psutil.pid_exists(started["postgres_pid"])
    assert not _processes_mentioning(str(state))
    assert not [p for p in _processes_mentioning(f"--port {SERVICES[0].port + offset}")]
    for spec in SERVICES:
        assert not port_open(spec.port + offset)

"""The devstack's durable PostgreSQL is set as docs/runbook.md sets a service database; the tests' throwaway one
is small and never waits for the disk."""

from __future__ import annotations

from pathlib import Path

from dipflow.devstack.postgres import PostgresServer


def _settings(server: PostgresServer) -> dict[str, str]:
    pairs = (argument.removeprefix("-c").partition("=") for argument in server.arguments())
    return {name: value for name, _, value in pairs}


def test_a_durable_server_holds_a_busy_systems_working_set_spaces_its_checkpoints_and_prices_index_reads(
    tmp_path: Path,
) -> None:
    settings = _settings(PostgresServer(tmp_path, durable=True))
    assert settings["shared_buffers"] == "1GB"
    assert settings["max_wal_size"] == "16GB"
    assert settings["checkpoint_timeout"] == "15min"
    assert settings["random_page_cost"] == "1.1"
    assert "fsync" not in settings and "synchronous_commit" not in settings


def test_a_throwaway_server_is_small_never_waits_for_the_disk_and_plans_as_a_service_database(
    tmp_path: Path,
) -> None:
    settings = _settings(PostgresServer(tmp_path, durable=False))
    assert settings["shared_buffers"] == "128MB"
    assert settings["fsync"] == "off" and settings["synchronous_commit"] == "off"
    assert settings["random_page_cost"] == "1.1"


def test_extra_settings_win_over_the_servers_own(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path, durable=True, extra_settings=("shared_buffers=2GB",))
    assert server.arguments()[-1] == "-cshared_buffers=2GB"
    assert server.arguments().index("-cshared_buffers=1GB") < server.arguments().index("-cshared_buffers=2GB")

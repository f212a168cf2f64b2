"""Where this checkout keeps the Kafka project and its cache."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The checkout this library runs from (the folder holding ``deploy/local/kafka/pom.xml``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "local" / "kafka" / "pom.xml").exists():
            return parent
    return Path.cwd()


def kafka_pom(root: Path) -> Path:
    return root / "deploy" / "local" / "kafka" / "pom.xml"


def kafka_log4j(root: Path) -> Path:
    return root / "deploy" / "local" / "kafka" / "log4j2.yaml"


def kafka_libs(root: Path) -> Path:
    return root / ".local" / "kafka" / "libs"

"""The devstack's passwords: generated on first use into the state folder (owner-only), never committed."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from dipflow.devstack.principals import CONTROLLER, PRINCIPALS, SYSTEMS
from dipflow.devstack.services import SERVICES

SUPERUSER = "postgres"


def service_role(service: str) -> str:
    """A service's PostgreSQL role: the name of its database (``ppo_register`` for ppo-register)."""
    return next(spec.database for spec in SERVICES if spec.name == service)


@dataclass(frozen=True)
class Credentials:
    kafka: dict[str, str]
    """SCRAM principal (and the brokers' ``controller``) → password."""
    postgres: dict[str, str]
    """PostgreSQL role (the superuser and one per service) → password."""
    senders: dict[str, str]
    """Outside system → the key it signs its records with (:mod:`dipflow.events.senders`)."""

    @classmethod
    def ensure(cls, path: Path) -> Credentials:
        """The credentials saved at ``path``; any principal or role missing there is added and saved."""
        try:
            saved = json.loads(path.read_text())
            found = cls(dict(saved["kafka"]), dict(saved["postgres"]), dict(saved.get("senders", {})))
        except (OSError, ValueError, KeyError, TypeError):
            found = cls({}, {}, {})
        wanted = cls(
            {name: found.kafka.get(name) or _password() for name in (*PRINCIPALS, CONTROLLER)},
            {
                name: found.postgres.get(name) or _password()
                for name in (SUPERUSER, *(spec.database for spec in SERVICES))
            },
            {name: found.senders.get(name) or _password() for name in SYSTEMS},
        )
        if wanted != found:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(asdict(wanted), indent=2))
            os.chmod(path, 0o600)
        return wanted


def _password() -> str:
    return secrets.token_urlsafe(24)

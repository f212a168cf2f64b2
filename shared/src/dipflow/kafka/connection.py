"""How a client reaches Kafka, as one address string.

``127.0.0.1:9092`` (one or more ``host:port``, comma-separated) is a PLAINTEXT connection, for a broker
someone runs without authentication. ``sasl_ssl://<principal>:<password>@host:port[,host:port]?cafile=<pem>``
is TLS to the broker, checked against the CA in ``cafile`` (the system's trust store when absent), and
SCRAM-SHA-512 as ``<principal>``: what the devstack, the tests and production use. Like a PostgreSQL DSN,
the address carries its credentials, so a service's one setting (``DIPFLOW_<SERVICE>_KAFKA_BOOTSTRAP``, from a
Secret in Kubernetes) says everything; :func:`redacted` is what may be logged.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from aiokafka.helpers import create_ssl_context
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECURE_SCHEME = "sasl_ssl"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaAddress:
    """A parsed Kafka address: the servers, and when secure, the principal, its password and the CA file."""

    servers: str
    principal: str | None = None
    password: str | None = None
    cafile: str | None = None

    @classmethod
    def parse(cls, address: str) -> KafkaAddress:
        scheme, found, rest = address.partition("://")
        if not found:
            return cls(servers=address)
        if scheme != SECURE_SCHEME:
            raise ValueError(f"Kafka address scheme {scheme!r}: use host:port or {SECURE_SCHEME}://")
        netloc, _, query = rest.partition("?")
        userinfo, _, servers = netloc.rpartition("@")
        principal, _, password = userinfo.partition(":")
        if not principal or not password or not servers:
            raise ValueError(f"a {SECURE_SCHEME}:// Kafka address needs principal:password@host:port")
        cafile = parse_qs(query).get("cafile", [None])[0]
        return cls(servers, unquote(principal), unquote(password), cafile)

    @property
    def secure(self) -> bool:
        return self.principal is not None

    def as_principal(self, principal: str, password: str) -> KafkaAddress:
        """The same brokers and CA, another principal."""
        return replace(self, principal=principal, password=password)

    def __str__(self) -> str:
        if not self.secure:
            return self.servers
        assert self.principal is not None and self.password is not None
        query = f"?{urlencode({'cafile': self.cafile})}" if self.cafile else ""
        userinfo = f"{quote(self.principal, safe='')}:{quote(self.password, safe='')}"
        return f"{SECURE_SCHEME}://{userinfo}@{self.servers}{query}"

    def redacted(self) -> str:
        return f"{SECURE_SCHEME}://{self.principal}:***@{self.servers}" if self.secure else self.servers

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        if not self.secure:
            return {"bootstrap_servers": self.servers}
        return {
            "bootstrap_servers": self.servers,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": self.principal,
            "sasl_plain_password": self.password,
            "ssl_context": _tls(self.cafile),
        }

    def librdkafka_options(self) -> dict[str, str]:
        """The same connection as librdkafka configuration properties (``confluent_kafka.Producer({…})``)."""
        if not self.secure:
            return {"bootstrap.servers": self.servers}
        assert self.principal is not None and self.password is not None
        options = {
            "bootstrap.servers": self.servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": MECHANISM,
            "sasl.username": self.principal,
            "sasl.password": self.password,
        }
        if self.cafile:
            options["ssl.ca.location"] = self.cafile
        return options


@functools.cache
def _tls(cafile: str | None) -> ssl.SSLContext:
    context: ssl.SSLContext = create_ssl_context(cafile=cafile)
    return context


def java_client_properties(address: str) -> str:
    """The same connection as properties for Kafka's own Java tools (``--command-config`` and the like)."""
    parsed = KafkaAddress.parse(address)
    if not parsed.secure:
        return "security.protocol=PLAINTEXT\n"
    lines = [
        "security.protocol=SASL_SSL",
        f"sasl.mechanism={MECHANISM}",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{parsed.principal}" password="{parsed.password}";',
    ]
    if parsed.cafile:
        lines += ["ssl.truststore.type=PEM", f"ssl.truststore.location={parsed.cafile}"]
    return "\n".join(lines) + "\n"


def kafka_options(address: str) -> dict[str, Any]:
    """``KafkaAddress.parse(address).client_options()``: spread into ``AIOKafkaProducer(**…)`` and the like."""
    return KafkaAddress.parse(address).client_options()


class KafkaClientSettings(BaseSettings):
    """How this process's Kafka clients behave, whichever service it runs (prefix ``DIPFLOW_KAFKA_``)."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_KAFKA_", extra="ignore", frozen=True)

    fetch_wait_ms: int = Field(
        default=500,
        ge=10,
        le=10_000,
        description="The longest a consumer's fetch waits at the broker when there is nothing to read. A record "
        "on a partition the waiting fetch covers ends it at once; one right behind records just handed to the "
        "service waits for it to end (one fetch is in flight per broker), so this also bounds that delay. "
        "Longer means fewer idle fetches (CPU in the broker and the service); a stop over TLS waits for the "
        "fetch in flight.",
    )


@functools.cache
def kafka_client_settings() -> KafkaClientSettings:
    """Read once per process."""
    return KafkaClientSettings()


def kafka_consumer_options(address: str) -> dict[str, Any]:
    """:func:`kafka_options` for a consumer: the same connection, fetches held at most
    ``DIPFLOW_KAFKA_FETCH_WAIT_MS``."""
    return {**kafka_options(address), "fetch_max_wait_ms": kafka_client_settings().fetch_wait_ms}


def redacted(address: str) -> str:
    """The address without its password, for logs and messages."""
    return KafkaAddress.parse(address).redacted()

"""The broker's compiler and its TLS suites go together: AES-GCM first only where the JVM uses the AES
instructions (the full compiler: production, Compose, make bench), ChaCha20 first on the quick compiler alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from dipflow.devstack.compose import broker_properties
from dipflow.devstack.credentials import Credentials
from dipflow.devstack.kafka import AES_FIRST, CHACHA_FIRST, KafkaServer
from dipflow.devstack.tls import ServerTls

QUICK_ONLY = "-XX:TieredStopAtLevel=1"


@pytest.fixture
def tls(tmp_path: Path) -> ServerTls:
    folder = tmp_path / "tls"
    folder.mkdir()
    (folder / "server.p12.password").write_text("not-a-secret")
    return ServerTls(folder)


def _server(tmp_path: Path, tls: ServerTls, *, full_compiler: bool) -> KafkaServer:
    return KafkaServer(
        data_dir=tmp_path / "kafka",
        libs=tmp_path / "libs",
        log4j_config=tmp_path / "log4j2.yaml",
        credentials=Credentials.ensure(tmp_path / "credentials.json"),
        tls=tls,
        full_compiler=full_compiler,
    )


def _suites(server: KafkaServer) -> str:
    server.write_config()
    lines = server.properties_path.read_text().splitlines()
    return next(line.partition("=")[2] for line in lines if line.startswith("ssl.cipher.suites="))


def test_a_broker_on_the_quick_compiler_alone_offers_chacha20_first(tmp_path: Path, tls: ServerTls) -> None:
    server = _server(tmp_path, tls, full_compiler=False)
    assert QUICK_ONLY in server._java("kafka.Kafka")
    assert _suites(server) == ",".join(CHACHA_FIRST)


def test_a_broker_on_the_full_compiler_offers_aes_gcm_first(tmp_path: Path, tls: ServerTls) -> None:
    server = _server(tmp_path, tls, full_compiler=True)
    assert QUICK_ONLY not in server._java("kafka.Kafka")
    assert _suites(server) == ",".join(AES_FIRST)
    assert sorted(AES_FIRST) == sorted(CHACHA_FIRST)


def test_the_compose_broker_on_the_stock_jvm_offers_aes_gcm_first(tmp_path: Path) -> None:
    properties = broker_properties(Credentials.ensure(tmp_path / "credentials.json"), tmp_path)
    assert properties["ssl.cipher.suites"] == ",".join(AES_FIRST)

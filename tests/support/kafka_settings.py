"""The Kafka client settings a test runs under, set through the environment as a service reads them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from dipflow.kafka.connection import kafka_client_settings


@contextmanager
def fetch_wait_ms(monkeypatch: pytest.MonkeyPatch, wait_ms: int) -> Iterator[None]:
    """``DIPFLOW_KAFKA_FETCH_WAIT_MS`` set to ``wait_ms`` (``monkeypatch`` restores it after the test); the
    settings are read afresh on entering and again after leaving, so no other test sees them cached."""
    monkeypatch.setenv("DIPFLOW_KAFKA_FETCH_WAIT_MS", str(wait_ms))
    kafka_client_settings.cache_clear()
    try:
        yield
    finally:
        kafka_client_settings.cache_clear()

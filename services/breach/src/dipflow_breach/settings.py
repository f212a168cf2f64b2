from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings

HTTP_PORT = 8004


class BreachSettings(ServiceSettings):
    """Settings of the breach service, read from ``DIPFLOW_BREACH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_BREACH_")

    service_name: str = "breach"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/breach"

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings

HTTP_PORT = 8003


class PpoRegisterSettings(ServiceSettings):
    """Settings of the ppo-register service, read from ``DIPFLOW_PPO_REGISTER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_PPO_REGISTER_")

    service_name: str = "ppo-register"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/ppo_register"

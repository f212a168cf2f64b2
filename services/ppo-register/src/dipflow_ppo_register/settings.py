from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings


class PpoRegisterSettings(ServiceSettings):
    """Settings of the ppo-register service, read from ``DIPFLOW_PPO_REGISTER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_PPO_REGISTER_")

    service_name: str = "ppo-register"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/ppo_register"

    positives_for_panel_flag: int = Field(
        3, ge=1, description="P3: positive tests in 12 months for a panel flag"
    )
    k1_baseline_month: str | None = Field(
        None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="K1: the month the change is measured against"
    )

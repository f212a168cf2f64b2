from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dipflow.periods import PERIOD_PATTERN
from dipflow.settings import ServiceSettings


class PpoRegisterSettings(ServiceSettings):
    """Settings of the ppo-register service, read from ``DIPFLOW_PPO_REGISTER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_PPO_REGISTER_")

    service_name: str = "ppo-register"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/ppo_register"

    positives_for_panel_flag: int = Field(
        3, ge=1, description="P3: positive tests in 12 months for a panel flag"
    )
    k1_baseline_period: str | None = Field(
        None,
        pattern=PERIOD_PATTERN,
        description="K1: the period (2008-03, 2007/08 Q4 or 2007/08) a borough without a target of its own is "
        "measured against",
    )

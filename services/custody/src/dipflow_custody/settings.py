from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings


class CustodySettings(ServiceSettings):
    """Settings of the custody service, read from ``DIPFLOW_CUSTODY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_CUSTODY_")

    service_name: str = "custody"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/custody"
    kit_cost_gbp: Decimal = Field(default=Decimal("9.17"), ge=0, description="K5: cost of one test kit [cfg]")
    confirmation_working_days: int = Field(
        default=5, ge=1, le=30, description="T12: working days from dispatch for a confirmatory result [cfg]"
    )

"""Settings of the breach service, from ``DIPFLOW_BREACH_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings
from dipflow_breach.domain.arrests import ArrestPolicy


class BreachSettings(ServiceSettings):
    """Settings of the breach service, read from ``DIPFLOW_BREACH_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_BREACH_")

    service_name: str = "breach"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/breach"
    ppo_arrest_target_hours: int = Field(24, ge=1, le=240, description="D5: premium arrest target for PPOs")
    assessment_failure_working_days: int = Field(10, ge=1, le=60)
    bail_breach_target_hours: int = Field(24, ge=1, le=240)
    webhook_retry_base_s: float = Field(5.0, gt=0, description="First retry after this; doubles each time")
    webhook_max_attempts: int = Field(8, ge=1, le=30, description="Then the notification is dead-lettered")

    def arrest_policy(self) -> ArrestPolicy:
        return ArrestPolicy(
            self.ppo_arrest_target_hours, self.assessment_failure_working_days, self.bail_breach_target_hours
        )

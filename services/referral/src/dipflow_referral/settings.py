from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings

HTTP_PORT = 8002


class ReferralSettings(ServiceSettings):
    """Settings of the referral service, read from ``DIPFLOW_REFERRAL_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_REFERRAL_")

    service_name: str = "referral"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/referral"

"""Service settings, read from the environment with a per-service prefix.

Each service subclasses :class:`ServiceSettings` and sets ``env_prefix`` (``DIPFLOW_CUSTODY_`` and so on),
so one shell can hold the settings of all four services without clashes.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service has."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_", extra="ignore", frozen=True)

    service_name: str = "dipflow"
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:55432/dipflow",
        description="DSN of this service's own database; it is created on start if missing.",
    )
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers.")
    log_level: str = "INFO"
    log_json: bool = True
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=20, ge=1)
    retention_negative_days: int = Field(
        default=90, ge=0, description="Days after which a detention with no positive result is pseudonymised."
    )
    retention_closed_days: int = Field(
        default=730,
        ge=0,
        description="Days after which a closed case is pseudonymised (its counts are kept).",
    )
    erasure_confirmed_by: list[str] = Field(
        default=["custody", "referral", "ppo-register", "breach"],
        description="Services whose confirmation completes an erasure request (where requests are taken).",
    )
    http_max_in_flight: int = Field(
        default=64,
        ge=1,
        description="Most requests handled at once (the limit adapts below it); more wait up to "
        "http_queue_wait_s, then get 503",
    )
    http_latency_target_s: float = Field(
        default=0.25,
        gt=0,
        description="Answers slower than this cut the requests taken at once in proportion (a tenth to a half); "
        "quicker ones raise it",
    )
    http_max_loop_lag_s: float = Field(
        default=0.1,
        gt=0,
        description="While the event loop runs later than this, new requests get 503 at once",
    )
    http_queue_wait_s: float = Field(
        default=0.0,
        ge=0,
        description="How long a request waits for a free slot before it is shed (0: not at all, so a shed "
        "answer does not wait for a turn of a busy event loop)",
    )
    http_retry_after_s: float = Field(default=1.0, gt=0, description="Retry-After of a shed request")
    retention_interval_s: float = Field(
        default=6 * 3600, gt=0, description="How often the retention job runs."
    )

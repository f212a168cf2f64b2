from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings
from dipflow_custody.service_layer.clocks import ClockPolicy


class CommandSender(BaseModel):
    """A custody suite system that may send commands: the key it signs them with and the areas (boroughs,
    forces, or ``*``) whose suites it acts for."""

    model_config = ConfigDict(frozen=True)

    key: SecretStr = Field(min_length=16)
    areas: list[str] = Field(min_length=1)


class CustodySettings(ServiceSettings):
    """Settings of the custody service, read from ``DIPFLOW_CUSTODY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_CUSTODY_")

    service_name: str = "custody"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/custody"
    kit_cost_gbp: Decimal = Field(default=Decimal("9.17"), ge=0, description="K5: cost of one test kit [cfg]")
    testing_machine_cost_gbp: Decimal = Field(
        default=Decimal("1375"),
        ge=0,
        description="K5: a suite's testing machine, counted when it first tests",
    )
    training_session_cost_gbp: Decimal = Field(
        default=Decimal("600"), ge=0, description="K5: one training session for custody officers"
    )
    officers_per_training_session: int = Field(
        default=8, ge=1, description="K5: officers trained in a session"
    )
    officers_trained_per_suite: int = Field(
        default=8, ge=0, description="K5: officers a suite trains before it tests (set your suites' number)"
    )
    confirmation_working_days: int = Field(
        default=5, ge=1, le=30, description="T12: working days from dispatch for a confirmatory result [cfg]"
    )
    written_confirmation_hours: float = Field(
        default=24,
        gt=0,
        le=720,
        description="T3: an oral authorisation not confirmed in writing after this long "
        "is an alert to the area's inspectors [cfg]",
    )
    webhook_retry_base_s: float = Field(
        5.0, gt=0, description="First alert-webhook retry after this; doubles"
    )
    command_senders: dict[str, CommandSender] = Field(
        default_factory=dict,
        description="The custody systems whose signed commands are applied (JSON: name → key and areas); "
        "a command from any other sender, unsigned, or for a suite outside its areas is dead-lettered",
    )

    def clock_policy(self) -> ClockPolicy:
        return ClockPolicy(written_confirmation_within=timedelta(hours=self.written_confirmation_hours))

from __future__ import annotations

from datetime import time, timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dipflow.settings import ServiceSettings
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.service_layer.clocks import ClockPolicy


class ReferralSettings(ServiceSettings):
    """Settings of the referral service, read from ``DIPFLOW_REFERRAL_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_REFERRAL_")

    service_name: str = "referral"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/referral"
    initial_within_days: int = Field(
        7, ge=1, le=60, description="A3: initial appointment within this many days"
    )
    confirmation_working_days: int = Field(
        5, ge=0, le=30, description="A3: disputed results, earliest appointment"
    )
    working_day_starts: time = time(9, 30)
    working_day_ends: time = time(17, 0)
    appointment_minutes: int = Field(60, ge=15, le=240)
    webhook_retry_base_s: float = Field(
        5.0, gt=0, description="First webhook retry after this; doubles each time"
    )
    default_place: str = Field(
        "the DIP office named on the notice", description="RA1 place when none is given"
    )

    attendance_grace_minutes: int = Field(
        60, ge=0, le=1440, description="A4/A5 clock: an appointment is overdue this long after its time"
    )
    overdue_escalation_hours: float = Field(
        24, gt=0, le=720, description="An overdue appointment's alert goes to the managers after this long"
    )
    unassigned_escalation_hours: float = Field(
        24, ge=0, le=720, description="A9: an unassigned appointment's alert is escalated this long before it"
    )

    def clock_policy(self) -> ClockPolicy:
        return ClockPolicy(
            attendance_grace=timedelta(minutes=self.attendance_grace_minutes),
            overdue_escalation_after=timedelta(hours=self.overdue_escalation_hours),
            unassigned_escalation_before=timedelta(hours=self.unassigned_escalation_hours),
        )

    def appointment_policy(self) -> AppointmentPolicy:
        return AppointmentPolicy(
            initial_within_days=self.initial_within_days,
            confirmation_working_days=self.confirmation_working_days,
            day_starts=self.working_day_starts,
            day_ends=self.working_day_ends,
            slot_minutes=self.appointment_minutes,
            default_place=self.default_place,
            unassigned_escalation_before=timedelta(hours=self.unassigned_escalation_hours),
        )

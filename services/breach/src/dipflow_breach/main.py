"""Composition root of the breach service: ``uvicorn --factory dipflow_breach.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow import ppo_copy, reference_copy
from dipflow.alerts import store as alerts
from dipflow.auth import AuthSettings
from dipflow.http.app import Service, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.wiring import Webhooks, Wiring
from dipflow_breach.adapters import privacy
from dipflow_breach.contracts.events import PRODUCER
from dipflow_breach.domain.arrests import ARREST_TARGET
from dipflow_breach.domain.cases import ENFORCEMENT_DUE, HEARING_DUE
from dipflow_breach.entrypoints.consumers import subscriptions
from dipflow_breach.entrypoints.http import ROUTERS
from dipflow_breach.service_layer import arrests, cases
from dipflow_breach.service_layer.notifications import LIAISON_DELIVERIES, LIAISON_WEBHOOK
from dipflow_breach.settings import BreachSettings

DESCRIPTION = (
    "DRR enforcement, warnings and breaches, PPO fast track, arrest requests and probation notifications "
    "(docs/rules.md section D)."
)
SERVICE = Service(
    "dipflow_breach", PRODUCER, DESCRIPTION, ROUTERS, PrivacyPlan(privacy.erase_person, privacy.retain)
)
TIMERS = {
    ENFORCEMENT_DUE: cases.on_case_deadline,
    HEARING_DUE: cases.on_case_deadline,
    ARREST_TARGET: arrests.on_arrest_deadline,
}


def wiring(settings: BreachSettings) -> Wiring:
    """Breach's copy of the PPO register (D5), the probation, custody and referral events, the D4 and D5
    timers, and the liaison webhooks."""
    consumed = [ppo_copy.SUBSCRIPTION, reference_copy.SUBSCRIPTION, *subscriptions(settings.arrest_policy())]
    retry, attempts = settings.webhook_retry_base_s, settings.webhook_max_attempts
    hooks = [
        Webhooks(LIAISON_WEBHOOK, LIAISON_DELIVERIES, retry, attempts),
        Webhooks(alerts.WEBHOOK, alerts.STORE, retry, attempts),
    ]
    started = [reference_copy.start_area_directory]
    return Wiring(
        subscriptions=consumed,
        timers=TIMERS,
        timers_read_ahead=cases.read_ahead_deadlines,
        webhooks=hooks,
        timer_poll_interval_s=0.5,
        on_start=started,
    )


def create_app(settings: BreachSettings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or BreachSettings()
    return create_service_app(SERVICE, settings, wiring(settings), auth_settings)

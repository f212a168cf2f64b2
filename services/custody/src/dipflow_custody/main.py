"""Composition root of the custody service: ``uvicorn --factory dipflow_custody.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow import ppo_copy, reference_copy
from dipflow.alerts import store as alerts
from dipflow.auth import AuthSettings
from dipflow.http.app import Service, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.wiring import Webhooks, Wiring
from dipflow_custody.adapters import privacy
from dipflow_custody.contracts.events import PRODUCER
from dipflow_custody.domain.deadlines import CONFIRMATION_DUE, HOLD_AFTER_CHARGE, HOLD_PRE_CHARGE
from dipflow_custody.entrypoints.commands import subscription
from dipflow_custody.entrypoints.http import ROUTERS
from dipflow_custody.entrypoints.startup import seed_reference
from dipflow_custody.service_layer import clocks, detentions
from dipflow_custody.settings import CustodySettings

DESCRIPTION = (
    "Detentions, trigger-offence checks, test eligibility, samples and results (docs/rules.md section T)."
)
PRIVACY = PrivacyPlan(eraser=privacy.erase_person, retainer=privacy.retain, takes_requests=True)
SERVICE = Service("dipflow_custody", PRODUCER, DESCRIPTION, ROUTERS, PRIVACY)
ALERT_ATTEMPTS = 8
TIMERS = {
    HOLD_AFTER_CHARGE: detentions.on_hold_deadline,
    HOLD_PRE_CHARGE: detentions.on_hold_deadline,
    CONFIRMATION_DUE: detentions.on_confirmation_due,
}


def wiring(settings: CustodySettings) -> Wiring:
    """Custody's copies of the PPO register (T4), of the areas and of referral's proposals whose RA1 is to serve
    (A1), the command topic of custody systems, the hold-for-sample and confirmation timers; on start, the shipped
    reference data for what has no record."""
    commands = subscription(settings.confirmation_working_days, settings.command_senders)
    copies = [ppo_copy.SUBSCRIPTION, reference_copy.SUBSCRIPTION]
    started = [seed_reference, reference_copy.start_area_directory]
    timers = {**TIMERS, **clocks.timers(settings.clock_policy())}
    alert_hooks = Webhooks(alerts.WEBHOOK, alerts.STORE, settings.webhook_retry_base_s, ALERT_ATTEMPTS)
    return Wiring(subscriptions=[*copies, commands], timers=timers, webhooks=[alert_hooks], on_start=started)


def create_app(settings: CustodySettings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or CustodySettings()
    return create_service_app(SERVICE, settings, wiring(settings), auth_settings)

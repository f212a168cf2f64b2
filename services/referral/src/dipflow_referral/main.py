"""Composition root of the referral service: ``uvicorn --factory dipflow_referral.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow import reference_copy
from dipflow.alerts import store as alerts
from dipflow.auth import AuthSettings
from dipflow.http.app import Service, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.wiring import ServiceResources, Webhooks, Wiring
from dipflow_referral.adapters import inbox, privacy, webhooks
from dipflow_referral.contracts.events import PRODUCER
from dipflow_referral.entrypoints.consumers import custody_subscription
from dipflow_referral.entrypoints.http import ROUTERS
from dipflow_referral.service_layer import clocks
from dipflow_referral.service_layer.assignment import WEBHOOK, WEBHOOK_ATTEMPTS
from dipflow_referral.settings import ReferralSettings

DESCRIPTION = (
    "Required assessments, worker assignment, attendance and restriction on bail "
    "(docs/rules.md sections A and B)."
)
SERVICE = Service(
    "dipflow_referral", PRODUCER, DESCRIPTION, ROUTERS, PrivacyPlan(privacy.erase_person, privacy.retain)
)


def wiring(settings: ReferralSettings, broadcaster: inbox.InboxBroadcaster) -> Wiring:
    """The custody events that open and move assessments, the teams' webhooks, and the listener that feeds the
    workers' live inbox streams."""

    async def listen_for_the_inbox(resources: ServiceResources) -> None:
        resources.loops.append(broadcaster)

    retry = settings.webhook_retry_base_s
    hooks = [
        Webhooks(WEBHOOK, webhooks.DELIVERIES, retry, WEBHOOK_ATTEMPTS),
        Webhooks(alerts.WEBHOOK, alerts.STORE, retry, WEBHOOK_ATTEMPTS),
    ]
    custody = custody_subscription(settings.appointment_policy())
    started = [listen_for_the_inbox, reference_copy.start_area_directory]
    return Wiring(
        subscriptions=[custody, reference_copy.SUBSCRIPTION],
        timers=clocks.timers(settings.clock_policy()),
        webhooks=hooks,
        on_start=started,
        timer_poll_interval_s=0.5,
    )


def create_app(
    settings: ReferralSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    settings = settings or ReferralSettings()
    broadcaster = inbox.InboxBroadcaster(settings.database_url)
    app = create_service_app(SERVICE, settings, wiring(settings, broadcaster), auth_settings)
    app.state.inbox = broadcaster
    return app

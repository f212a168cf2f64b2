"""Composition root of the referral service: ``uvicorn --factory dipflow_referral.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.auth import AuthSettings
from dipflow.events.consumer import EventConsumer
from dipflow.events.relay import OutboxRelay
from dipflow.events.timers import TimerLoop
from dipflow.http.app import ServiceResources, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.topics import CUSTODY_EVENTS
from dipflow_referral import webhooks
from dipflow_referral.adapters import privacy
from dipflow_referral.consumed import CONSUMED
from dipflow_referral.entrypoints.http import assessments, bail, inbox, queue, teams, workers
from dipflow_referral.entrypoints.measures import measures
from dipflow_referral.entrypoints.stream import InboxBroadcaster
from dipflow_referral.projections import custody_handler
from dipflow_referral.settings import ReferralSettings


def create_app(
    settings: ReferralSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    settings = settings or ReferralSettings()
    broadcaster = InboxBroadcaster(settings.database_url)

    async def start(resources: ServiceResources) -> None:
        await _start_loops(resources)
        resources.loops.append(broadcaster)

    app = create_service_app(
        settings=settings,
        title="dipflow referral",
        description="Required assessments, worker assignment, attendance and restriction on bail (docs/rules.md sections A and B).",
        migrations_package="dipflow_referral.migrations",
        routers=[workers, teams, assessments, queue, inbox, bail, measures],
        on_start=[start],
        auth_settings=auth_settings,
        privacy=PrivacyPlan(eraser=privacy.erase_person, retainer=privacy.retain),
    )
    app.state.inbox = broadcaster
    return app


async def _start_loops(resources: ServiceResources) -> None:
    """The outbox relay, the consumer of custody events, webhook deliveries, and the inbox listener."""
    settings = resources.settings
    assert isinstance(settings, ReferralSettings)
    resources.loops.append(
        OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
    )
    resources.loops.append(
        EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            group_id=f"{settings.service_name}.custody-events",
            topics=[CUSTODY_EVENTS.name],
            registry=CONSUMED,
            handler=custody_handler(settings.appointment_policy()),
        )
    )
    resources.loops.append(
        TimerLoop(
            resources.pool,
            {webhooks.KIND: webhooks.deliver(settings.webhook_retry_base_s)},
            poll_interval_s=0.5,
        )
    )

"""Composition root of the breach service: ``uvicorn --factory dipflow_breach.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.auth import AuthSettings
from dipflow.events.consumer import EventConsumer
from dipflow.events.relay import OutboxRelay
from dipflow.events.timers import TimerLoop
from dipflow.http.app import ServiceResources, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.topics import CUSTODY_EVENTS, PPO_REGISTER, PROBATION_EVENTS, REFERRAL_EVENTS
from dipflow_breach import handlers, notifications, projections
from dipflow_breach.adapters import privacy
from dipflow_breach.commands import INBOUND
from dipflow_breach.consumed import CONSUMED, REGISTER
from dipflow_breach.entrypoints.http import arrests, cases, feed, measures, orders
from dipflow_breach.settings import BreachSettings


def create_app(settings: BreachSettings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or BreachSettings()
    return create_service_app(
        settings=settings,
        title="dipflow breach",
        description="DRR enforcement, warnings and breaches, PPO fast track, arrest requests and probation notifications (docs/rules.md section D).",
        migrations_package="dipflow_breach.migrations",
        routers=[orders, cases, arrests, feed, measures],
        on_start=[_start_loops],
        auth_settings=auth_settings,
        privacy=PrivacyPlan(eraser=privacy.erase_person, retainer=privacy.retain),
    )


async def _start_loops(resources: ServiceResources) -> None:
    """Relay, timers (D4 due dates, arrest targets, webhook attempts) and three consumers."""
    settings = resources.settings
    assert isinstance(settings, BreachSettings)
    policy = settings.arrest_policy()
    resources.loops.append(
        OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
    )
    resources.loops.append(
        TimerLoop(
            resources.pool,
            {
                handlers.ENFORCEMENT_DUE: handlers.on_case_deadline,
                handlers.HEARING_DUE: handlers.on_case_deadline,
                handlers.ARREST_TARGET: handlers.on_arrest_deadline,
                notifications.KIND: notifications.deliver(
                    settings.webhook_retry_base_s, settings.webhook_max_attempts
                ),
            },
            poll_interval_s=0.5,
        )
    )
    name = settings.service_name
    for group, topics, registry, handler in (
        ("probation", [PROBATION_EVENTS.name], INBOUND, projections.probation_handler(policy)),
        ("events", [CUSTODY_EVENTS.name, REFERRAL_EVENTS.name], CONSUMED, projections.events_handler(policy)),
    ):
        resources.loops.append(EventConsumer(bootstrap=settings.kafka_bootstrap, pool=resources.pool,
                                             group_id=f"{name}.{group}", topics=topics, registry=registry, handler=handler))  # fmt: skip
    resources.loops.append(
        EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            group_id=f"{name}.ppo-register",
            topics=[PPO_REGISTER.name],
            registry=REGISTER,
            handler=projections.on_ppo_status,
            on_tombstone=projections.on_ppo_removed,
        )
    )

"""Composition root of the custody service: ``uvicorn --factory dipflow_custody.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.auth import AuthSettings
from dipflow.events.consumer import EventConsumer
from dipflow.events.relay import OutboxRelay
from dipflow.events.timers import TimerLoop
from dipflow.http.app import ServiceResources, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.topics import CUSTODY_COMMANDS, PPO_REGISTER
from dipflow_custody import handlers
from dipflow_custody.adapters import privacy
from dipflow_custody.commands import INBOUND
from dipflow_custody.consumed import CONSUMED
from dipflow_custody.domain.deadlines import CONFIRMATION_DUE, HOLD_AFTER_CHARGE, HOLD_PRE_CHARGE
from dipflow_custody.entrypoints.http import measures, notifications, reference, router
from dipflow_custody.entrypoints.kafka_commands import command_handler
from dipflow_custody.settings import CustodySettings


def create_app(settings: CustodySettings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or CustodySettings()
    return create_service_app(
        settings=settings,
        title="dipflow custody",
        description="Detentions, trigger-offence checks, test eligibility, samples and results (docs/rules.md section T).",
        migrations_package="dipflow_custody.migrations",
        routers=[router, notifications, measures, reference],
        on_start=[_start_loops],
        auth_settings=auth_settings,
        privacy=PrivacyPlan(eraser=privacy.erase_person, retainer=privacy.retain, takes_requests=True),
    )


async def _start_loops(resources: ServiceResources) -> None:
    """The outbox relay, the hold-for-sample timers, the local copy of the PPO register and inbound commands."""
    settings = resources.settings
    resources.loops.append(
        OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
    )
    resources.loops.append(
        TimerLoop(
            resources.pool,
            {
                HOLD_AFTER_CHARGE: handlers.on_hold_deadline,
                HOLD_PRE_CHARGE: handlers.on_hold_deadline,
                CONFIRMATION_DUE: handlers.on_confirmation_due,
            },
        )
    )
    resources.loops.append(
        EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            group_id=f"{settings.service_name}.ppo-register",
            topics=[PPO_REGISTER.name],
            registry=CONSUMED,
            handler=handlers.on_ppo_status,
            on_tombstone=handlers.on_ppo_removed,
        )
    )
    resources.loops.append(
        EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            group_id=f"{settings.service_name}.commands",
            topics=[CUSTODY_COMMANDS.name],
            registry=INBOUND,
            handler=command_handler(resources.pool, settings.confirmation_working_days),
        )
    )

"""Composition root of the ppo-register service: ``uvicorn --factory dipflow_ppo_register.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.auth import AuthSettings
from dipflow.events.consumer import EventConsumer
from dipflow.events.relay import OutboxRelay
from dipflow.http.app import ServiceResources, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS
from dipflow_ppo_register.adapters import privacy
from dipflow_ppo_register.consumed import CONSUMED
from dipflow_ppo_register.entrypoints.http import router
from dipflow_ppo_register.entrypoints.lists import panel, tested_positive
from dipflow_ppo_register.entrypoints.measures import measures
from dipflow_ppo_register.projections import event_handler
from dipflow_ppo_register.settings import PpoRegisterSettings


def create_app(
    settings: PpoRegisterSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    settings = settings or PpoRegisterSettings()
    return create_service_app(
        settings=settings,
        title="dipflow ppo-register",
        description="The Prolific and Priority Offender register, its history and the tested-positive list (docs/rules.md section P).",
        migrations_package="dipflow_ppo_register.migrations",
        routers=[router, tested_positive, panel, measures],
        on_start=[_start_loops],
        auth_settings=auth_settings,
        privacy=PrivacyPlan(eraser=privacy.erase_person, retainer=privacy.retain),
    )


async def _start_loops(resources: ServiceResources) -> None:
    """The outbox relay (the compacted register topic) and the consumer of custody and referral events."""
    settings = resources.settings
    assert isinstance(settings, PpoRegisterSettings)
    resources.loops.append(
        OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
    )
    resources.loops.append(
        EventConsumer(
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            group_id=f"{settings.service_name}.events",
            topics=[CUSTODY_EVENTS.name, REFERRAL_EVENTS.name],
            registry=CONSUMED,
            handler=event_handler(panel_threshold=settings.positives_for_panel_flag),
        )
    )

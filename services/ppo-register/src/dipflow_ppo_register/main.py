"""Composition root of the ppo-register service: ``uvicorn --factory dipflow_ppo_register.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.auth import AuthSettings
from dipflow.events.relay import OutboxRelay
from dipflow.http.app import ServiceResources, create_service_app
from dipflow_ppo_register.entrypoints.http import router
from dipflow_ppo_register.settings import PpoRegisterSettings


def create_app(
    settings: PpoRegisterSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    settings = settings or PpoRegisterSettings()
    return create_service_app(
        settings=settings,
        title="dipflow ppo-register",
        description="The Prolific and Priority Offender register, its history and the tested-positive list (RULES.md section P).",
        migrations_package="dipflow_ppo_register.migrations",
        routers=[router],
        on_start=[_start_loops],
        auth_settings=auth_settings,
    )


async def _start_loops(resources: ServiceResources) -> None:
    settings = resources.settings
    resources.loops.append(
        OutboxRelay(settings.database_url, settings.kafka_bootstrap, service=settings.service_name)
    )

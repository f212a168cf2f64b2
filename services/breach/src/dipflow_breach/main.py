"""Composition root of the breach service: ``uvicorn --factory dipflow_breach.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.http.app import create_service_app
from dipflow_breach.settings import BreachSettings


def create_app(settings: BreachSettings | None = None) -> FastAPI:
    settings = settings or BreachSettings()
    return create_service_app(
        settings=settings,
        title="dipflow breach",
        description="DRR enforcement, warnings and breaches, PPO fast track and arrest requests (RULES.md section D).",
        migrations_package="dipflow_breach.migrations",
    )

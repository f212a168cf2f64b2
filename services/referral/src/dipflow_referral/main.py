"""Composition root of the referral service: ``uvicorn --factory dipflow_referral.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow.http.app import create_service_app
from dipflow_referral.settings import ReferralSettings


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    return create_service_app(
        settings=settings,
        title="dipflow referral",
        description="Required assessments, worker assignment, attendance and restriction on bail (RULES.md sections A and B).",
        migrations_package="dipflow_referral.migrations",
    )

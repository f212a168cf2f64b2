"""Composition root of the ppo-register service: ``uvicorn --factory dipflow_ppo_register.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from dipflow import reference_copy
from dipflow.auth import AuthSettings
from dipflow.http.app import Service, create_service_app
from dipflow.privacy.api import PrivacyPlan
from dipflow.wiring import Wiring
from dipflow_ppo_register.adapters import privacy
from dipflow_ppo_register.contracts.events import PRODUCER
from dipflow_ppo_register.entrypoints.consumers import subscription
from dipflow_ppo_register.entrypoints.http import ROUTERS
from dipflow_ppo_register.settings import PpoRegisterSettings

DESCRIPTION = (
    "The Prolific and Priority Offender register, its history and the tested-positive list "
    "(docs/rules.md section P)."
)
SERVICE = Service(
    "dipflow_ppo_register", PRODUCER, DESCRIPTION, ROUTERS, PrivacyPlan(privacy.erase_person, privacy.retain)
)


def wiring(settings: PpoRegisterSettings) -> Wiring:
    """The read models kept from custody and referral events (P2, P3, K1, K2)."""
    events = subscription(settings.positives_for_panel_flag)
    return Wiring(
        subscriptions=[events, reference_copy.SUBSCRIPTION], on_start=[reference_copy.start_area_directory]
    )


def create_app(
    settings: PpoRegisterSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    settings = settings or PpoRegisterSettings()
    return create_service_app(SERVICE, settings, wiring(settings), auth_settings)

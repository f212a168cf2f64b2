"""Each service's skeleton against the real servers: health, readiness naming what fails, metrics, docs."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.db.database import database_name, server_dsn
from dipflow.devstack.services import SERVICES, ServiceSpec
from tests.infra import Infra

SECRET = "skeleton-secret-" + "x" * 30


def build_app(spec: ServiceSpec, auth: AuthSettings | None = None, **settings: Any) -> FastAPI:
    main = importlib.import_module(f"{spec.package}.main")
    settings_module = importlib.import_module(f"{spec.package}.settings")
    settings_cls = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings") and value.__module__ == settings_module.__name__
    )
    app: FastAPI = main.create_app(settings_cls(**settings), auth or AuthSettings(dev_secret=SECRET))
    return app


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
async def test_service_is_healthy_ready_and_documented(spec: ServiceSpec, infra: Infra, unique: str) -> None:
    dsn = server_dsn(infra.postgres_dsn, f"svc_{unique}")
    app = build_app(spec, database_url=dsn, kafka_bootstrap=infra.kafka_bootstrap)
    token = mint_token(SECRET, subject="reader", role=Role.analyst, area="*")
    async with running(app) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        refused = [(await client.get(path)).status_code for path in ("/openapi.json", "/docs", "/redoc")]
        docs = await client.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
        swagger = await client.get("/docs", headers={"Authorization": f"Bearer {token}"})
        metrics = await client.get("/metrics")
        records_only = await client.get("/metrics", params={"name[]": "dipflow_http_requests_total"})
    await _drop(infra, dsn)
    assert refused == [401, 401, 401]  # API descriptions need a token unless they are made public
    assert swagger.status_code == 200 and "swagger" in swagger.text.lower()
    assert health.status_code == 200
    assert health.json()["service"] == spec.name
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {checks["db"], checks["broker"]} == {"ok"} and set(checks.values()) == {"ok"}
    assert docs.json()["info"]["title"] == f"dipflow {spec.name}"
    assert {"/healthz", "/readyz", "/metrics"} <= set(docs.json()["paths"])
    assert (
        f'dipflow_http_requests_total{{method="GET",route="/readyz",service="{spec.name}",status="200"}}'
        in metrics.text
    )
    assert "dipflow_http_request_seconds" in metrics.text  # the whole page, unless samples are named
    named = {line.split("{")[0] for line in records_only.text.splitlines() if not line.startswith("#")}
    assert named == {"dipflow_http_requests_total"}


async def test_api_descriptions_are_public_only_when_the_setting_says_so(infra: Infra, unique: str) -> None:
    dsn = server_dsn(infra.postgres_dsn, f"svc_{unique}")
    public = AuthSettings(dev_secret=SECRET, public_api_docs=True)
    app = build_app(SERVICES[0], public, database_url=dsn, kafka_bootstrap=infra.kafka_bootstrap)
    async with running(app) as client:
        answers = [(await client.get(path)).status_code for path in ("/openapi.json", "/docs", "/redoc")]
    await _drop(infra, dsn)
    assert answers == [200, 200, 200]


async def test_readyz_names_the_broker_when_it_does_not_answer(infra: Infra, unique: str) -> None:
    dsn = server_dsn(infra.postgres_dsn, f"svc_{unique}")
    app = build_app(SERVICES[0], database_url=dsn, kafka_bootstrap="127.0.0.1:1", readiness_timeout_s=1)
    async with running(app) as client:
        ready = await client.get("/readyz")
    await _drop(infra, dsn)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["broker"]
    assert ready.json()["checks"]["db"] == "ok"


async def test_readyz_names_the_database_when_it_refuses_connections(infra: Infra, unique: str) -> None:
    dsn = server_dsn(infra.postgres_dsn, f"svc_{unique}")
    app = build_app(
        SERVICES[1], database_url=dsn, kafka_bootstrap=infra.kafka_bootstrap, readiness_timeout_s=1
    )
    async with running(app) as client:
        assert (await client.get("/readyz")).status_code == 200
        admin = await asyncpg.connect(infra.postgres_dsn)
        try:
            name = database_name(dsn)
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
        finally:
            await admin.close()
        ready = await client.get("/readyz")
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{database_name(dsn)}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()
    await _drop(infra, dsn)
    assert ready.status_code == 503
    assert ready.json()["failing"] == ["db"]


async def _drop(infra: Infra, dsn: str) -> None:
    admin = await asyncpg.connect(infra.postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(dsn)}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_a_running_service_keeps_what_starting_made_out_of_full_collections(
    infra: Infra, unique: str
) -> None:
    """A full collection walked every object the service made while starting (150 ms on a slow machine, a
    pause for every request and timer meanwhile); frozen after start, they are left out until it stops. Young
    collections are spaced as dipflow.heap says while it runs."""
    import gc

    from dipflow.heap import YOUNG_COLLECTION_ALLOCATIONS

    dsn = server_dsn(infra.postgres_dsn, f"svc_{unique}")
    app = build_app(SERVICES[0], database_url=dsn, kafka_bootstrap=infra.kafka_bootstrap)
    async with running(app):
        frozen = gc.get_freeze_count()
        young_collection = gc.get_threshold()[0]
    await _drop(infra, dsn)
    assert frozen > 10_000
    assert young_collection == YOUNG_COLLECTION_ALLOCATIONS
    assert gc.get_freeze_count() == 0

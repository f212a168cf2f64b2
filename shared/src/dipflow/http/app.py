"""Build a service's FastAPI app: database created and migrated on start, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from dipflow.auth.tokens import AuthSettings
from dipflow.db import apply_migrations, connect_pool, database_answers, ensure_database, load_migrations
from dipflow.events.errors import Backoff, is_transient
from dipflow.heap import steady_collection
from dipflow.http import audit_api
from dipflow.http.access import install_auth, requires
from dipflow.http.correlation import CorrelationMiddleware
from dipflow.http.idempotency import install_idempotency
from dipflow.http.metrics import MetricsMiddleware
from dipflow.http.nul import RejectNulMiddleware
from dipflow.http.openapi import install_problem_docs
from dipflow.http.problems import install_problem_handlers
from dipflow.http.shedding import ShedMiddleware
from dipflow.kafka.admin import broker_ready
from dipflow.logging import configure_logging, get_logger
from dipflow.privacy import RetentionLoop, RetentionPolicy, erasure_consumer
from dipflow.privacy import api as privacy_api
from dipflow.privacy.api import PrivacyPlan
from dipflow.settings import ServiceSettings
from dipflow.uow import Producer
from dipflow.wiring import BackgroundLoop, ServiceResources, StartHook, Wiring, loops

__all__ = ["BackgroundLoop", "Service", "ServiceResources", "StartHook", "create_service_app"]

log = get_logger("dipflow.http")
API_VERSION = "0.1.0"
STARTUP_TIMEOUT_S = 60.0
"""How long a starting service waits for its database."""
STOP_TIMEOUT_S = 15.0
"""How long a stopping service waits for its loops and its pool."""


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, str]
    failing: list[str]


async def _open_database(settings: ServiceSettings, startup_timeout_s: float) -> asyncpg.Pool:
    deadline = time.monotonic() + startup_timeout_s
    backoff = Backoff(ceiling_s=2.0)
    while True:
        try:
            created = await ensure_database(settings.database_url)
            if created:
                log.info("database_created", database=settings.database_url.rsplit("/", 1)[-1])
            return await connect_pool(
                settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
            )
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            log.warning("database_unavailable_retrying", error=type(exc).__name__)
            await asyncio.sleep(backoff.next())


def _loop_name(loop: object) -> str:
    """A loop's task name for the logs: its kind, and its consumer group where it has one."""
    group = getattr(loop, "group_id", None)
    return f"{type(loop).__name__}:{group}" if group else type(loop).__name__


async def _stop_loops(tasks: Sequence[asyncio.Task[None]], timeout_s: float) -> None:
    """Cancel the background loops and wait for them, but never for ever: a Kafka client whose stop hangs
    (a group rebalance in flight, a broker away) must not keep a service from shutting down."""
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        log.warning("background_loop_stop_timed_out", loop=task.get_name(), timeout_s=timeout_s)


@dataclass(frozen=True)
class Service:
    """What a service is, whatever its settings: its package (migrations in ``<package>.migrations``), what it
    publishes as (``producer``: the envelope's producer and its events topic; the API is titled after it), its
    API description and routers, and what it does with personal data (erasure by a consumer of
    ``privacy.requests.v1``, the retention job and their admin endpoints)."""

    package: str
    producer: Producer
    description: str
    routers: Sequence[APIRouter]
    privacy: PrivacyPlan | None = None


METRIC_NAMES: dict[str, Any] = {
    "name": "name[]",
    "in": "query",
    "required": False,
    "schema": {"type": "array", "items": {"type": "string"}},
    "style": "form",
    "explode": True,
    "description": "Only these samples (repeatable, as Prometheus' own exposition takes them): a poller reading "
    "one counter neither builds nor parses the whole page. Names it does not know give an empty page.",
}


def create_service_app(
    service: Service, settings: ServiceSettings, wiring: Wiring, auth_settings: AuthSettings | None = None
) -> FastAPI:
    """The app of ``service`` with ``settings``, running what ``wiring`` declares (:mod:`dipflow.wiring`) behind
    its routes, the same health, readiness, metrics, errors, idempotency, audit and privacy as every service."""
    producer, privacy = service.producer, service.privacy
    migrations_package = f"{service.package}.migrations"
    title = f"dipflow {producer.name}"
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    policy = RetentionPolicy(settings.retention_negative_days, settings.retention_closed_days)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await _open_database(settings, STARTUP_TIMEOUT_S)
        async with pool.acquire() as conn:
            applied = await apply_migrations(
                conn, load_migrations("dipflow.db.platform"), table="platform_migrations"
            )
            applied += await apply_migrations(conn, load_migrations(migrations_package))
        if applied:
            log.info("migrations_applied", migrations=applied)
        resources = ServiceResources(settings=settings, pool=pool, producer=producer)
        app.state.resources = resources
        resources.loops.extend(
            loops(wiring, settings, pool, producer, eraser=privacy.eraser if privacy is not None else None)
        )
        for hook in wiring.on_start:
            await hook(resources)
        if privacy is not None:
            _start_privacy_loops(resources, privacy, policy)
        resources.tasks = [asyncio.create_task(loop.run(), name=_loop_name(loop)) for loop in resources.loops]
        log.info("service_started")
        try:
            with steady_collection():
                yield
        finally:
            await _stop_loops(resources.tasks, STOP_TIMEOUT_S)
            try:
                await asyncio.wait_for(pool.close(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("database_pool_close_timed_out", timeout_s=STOP_TIMEOUT_S)
                pool.terminate()
            log.info("service_stopped")

    auth = auth_settings or AuthSettings()
    public = auth.public_api_docs
    app = FastAPI(
        title=title,
        description=service.description,
        version=API_VERSION,
        lifespan=lifespan,
        openapi_url="/openapi.json" if public else None,
        docs_url="/docs" if public else None,
        redoc_url="/redoc" if public else None,
    )
    app.state.privacy_plan, app.state.retention_policy = privacy, policy
    app.state.producer = producer
    install_auth(app, auth)
    if not auth.public_api_docs:
        app.include_router(api_descriptions(title))
    install_problem_handlers(app)
    install_problem_docs(app)
    # Last added runs first: correlation id → metrics → shedding → idempotency → NUL guard → routes.
    app.add_middleware(RejectNulMiddleware)
    install_idempotency(app)
    app.add_middleware(
        ShedMiddleware,
        service=settings.service_name,
        max_in_flight=settings.http_max_in_flight,
        queue_wait_s=settings.http_queue_wait_s,
        retry_after_s=settings.http_retry_after_s,
        latency_target_s=settings.http_latency_target_s,
        max_loop_lag_s=settings.http_max_loop_lag_s,
    )
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(CorrelationMiddleware)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The database and the broker answer",
        response_model=Readiness,
        responses={
            503: {"description": "A dependency does not answer; `failing` names it", "model": Readiness}
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        resources: ServiceResources = request.app.state.resources
        timeout = settings.readiness_timeout_s
        db_ok, broker_ok = await asyncio.gather(
            database_answers(resources.pool, timeout),
            broker_ready(settings.kafka_bootstrap, timeout),
        )
        checks = {"db": db_ok, "broker": broker_ok, **resources.readiness()}
        failing = sorted(name for name, ok in checks.items() if not ok)
        body = {
            "status": "ready" if not failing else "unavailable",
            "service": settings.service_name,
            "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
            "failing": failing,
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        openapi_extra={"parameters": [METRIC_NAMES]},
    )
    async def metrics(request: Request) -> Response:
        names = request.query_params.getlist(METRIC_NAMES["name"])
        registry = REGISTRY.restricted_registry(names) if names else REGISTRY
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    privacy_routers: list[APIRouter] = [] if privacy is None else [privacy_api.router]
    if privacy is not None and privacy.takes_requests:
        privacy_routers.append(privacy_api.requests_router)
    for router in (*service.routers, audit_api.router, *privacy_routers):
        app.include_router(router)
    return app


def api_descriptions(title: str) -> APIRouter:
    """/openapi.json, /docs and /redoc for signed-in callers (any role), when they are not public."""
    router = APIRouter(include_in_schema=False, dependencies=[Depends(requires())])

    @router.get("/openapi.json")
    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(request.app.openapi())

    @router.get("/docs")
    async def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{title} - docs")

    @router.get("/redoc")
    async def redoc() -> Response:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{title} - ReDoc")

    return router


def _start_privacy_loops(resources: ServiceResources, plan: PrivacyPlan, policy: RetentionPolicy) -> None:
    settings = resources.settings
    resources.loops.append(
        erasure_consumer(
            service=settings.service_name,
            bootstrap=settings.kafka_bootstrap,
            pool=resources.pool,
            eraser=plan.eraser,
            collect_confirmations=plan.takes_requests,
        )
    )
    resources.loops.append(
        RetentionLoop(
            resources.pool, settings.service_name, plan.retainer, policy, settings.retention_interval_s
        )
    )

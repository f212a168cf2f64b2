"""Composition root of the web app: ``uvicorn --factory dipflow_web.main:create_app`` (port 8005)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dipflow.auth.tokens import AuthSettings, TokenVerifier
from dipflow.http.correlation import CorrelationMiddleware
from dipflow.http.metrics import MetricsMiddleware
from dipflow.http.middleware import HttpMiddleware
from dipflow.logging import configure_logging
from dipflow_web import oidc, pages, proxy, return_page
from dipflow_web.settings import WebSettings

STATIC = Path(__file__).parent / "static"
CHART_JS = Path("chart.js") / "dist" / "chart.umd.min.js"


def security_headers(provider: str | None = None) -> dict[str, str]:
    """The headers on every answer. Forms post only to this site, and to the identity provider's origin when
    there is one (signing in and out end in a redirect there, which ``form-action`` also governs)."""
    form_action = " ".join(["'self'", *([_origin(provider)] if provider else [])])
    return {
        "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action {form_action}; "
        "frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",  # "no-referrer" would make form posts send Origin: null
        "x-frame-options": "DENY",
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SECURITY_HEADERS = security_headers()


class SecurityHeaders(HttpMiddleware):
    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        super().__init__(app)
        self.headers = headers

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode(), v.encode()) for k, v in self.headers.items() if k.encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    settings: WebSettings | None = None,
    auth_settings: AuthSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or WebSettings()
    configure_logging("web", settings.log_level, settings.log_json)
    for chatty in ("httpx", "httpcore"):  # their request lines carry URLs, and URLs can carry person ids
        logging.getLogger(chatty).setLevel(logging.WARNING)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.upstream_timeout_s, transport=transport) as client:
            app.state.upstream = client
            yield

    app = FastAPI(title="dipflow web", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier(auth_settings or AuthSettings())
    app.include_router(pages.router)
    app.include_router(return_page.router)
    app.include_router(oidc.router)
    app.include_router(proxy.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/chart.umd.min.js", include_in_schema=False)
    async def chart_js() -> Response:
        path = settings.node_modules / CHART_JS
        if not path.is_file():
            return proxy.problem(404, "Not Found", f"chart.js is not installed ({path}); run `make install`")
        return FileResponse(path, media_type="text/javascript", headers={"cache-control": "max-age=3600"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "web"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus metrics, as the services serve them (requests by route template, never by raw path)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready when every service the pages call answers its /healthz, and chart.js is installed."""
        client: httpx.AsyncClient = app.state.upstream

        async def answers(url: str) -> bool:
            try:
                return (await client.get(f"{url}/healthz", timeout=2.0)).status_code == 200
            except httpx.HTTPError:
                return False

        urls = settings.service_urls()
        found = await asyncio.gather(*(answers(u) for u in urls.values()))
        checks = {name: "ok" if ok else "failing" for name, ok in zip(urls, found, strict=True)}
        checks["chart.js"] = "ok" if (settings.node_modules / CHART_JS).is_file() else "failing"
        failing = [name for name, state in checks.items() if state != "ok"]
        body = {
            "status": "failing" if failing else "ok",
            "service": "web",
            "checks": checks,
            "failing": failing,
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    app.add_middleware(MetricsMiddleware, service="web")
    app.add_middleware(CorrelationMiddleware)
    app.add_middleware(SecurityHeaders, headers=security_headers(settings.oidc_issuer))
    return app

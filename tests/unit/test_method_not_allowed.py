"""A 405 names every method of its resource in ``Allow`` (RFC 9110 15.5.6). Starlette names only the methods
of the first route whose path matched, so a resource served by a GET route and a POST route named one."""

from __future__ import annotations

import importlib
import re

import httpx
import pytest
from fastapi import FastAPI

from dipflow.devstack.services import SERVICES, ServiceSpec
from dipflow.http.problems import PROBLEM_JSON

SPECS = {spec.name: spec for spec in SERVICES}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def create_app(spec: ServiceSpec) -> FastAPI:
    app: FastAPI = importlib.import_module(f"{spec.package}.main").create_app()
    return app


async def answer(app: FastAPI, method: str, path: str) -> httpx.Response:
    """Routing alone: no lifespan, so no database or broker is needed."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("custody", "/v1/notifications"),
        ("referral", "/v1/workers"),
        ("referral", "/v1/assessments/A-1/clinical-notes"),
        ("ppo-register", "/v1/register"),
    ],
)
async def test_a_resource_with_two_methods_allows_both(service: str, path: str) -> None:
    response = await answer(create_app(SPECS[service]), "PATCH", path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 405
    assert response.headers["x-correlation-id"] == response.json()["correlation_id"]


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
async def test_every_405_allows_the_methods_the_openapi_documents(spec: ServiceSpec) -> None:
    app = create_app(spec)
    for template, item in app.openapi()["paths"].items():
        documented = sorted(method.upper() for method in item)
        path = re.sub(r"\{[^}]+\}", "X-1", template)
        refused = next(m for m in METHODS if m not in documented)
        response = await answer(app, refused, path)
        assert response.status_code == 405, f"{refused} {path}"
        assert response.headers["allow"].split(", ") == documented, f"{refused} {path}"

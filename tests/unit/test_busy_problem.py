"""A request PostgreSQL ended because another transaction held what it needed (a deadlock, a serialization failure)
is answered 503 with ``Retry-After``, as problem+json: nothing was written, and a retry may succeed."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from dipflow.http.problems import PROBLEM_JSON, install_problem_handlers


@pytest.mark.parametrize(
    "error", [asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError]
)
async def test_a_transaction_ended_for_another_is_a_503_to_retry(error: type[Exception]) -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def things() -> None:
        raise error("deadlock detected")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/v1/things")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"].endswith("/busy")

"""A request whose transaction the database undoes to end a conflict with another (a deadlock, a serialization
failure) is answered 503 problem+json with ``Retry-After``, not 500: nothing of it was done, and sent again it
can succeed (the CI found a deadlock between a new worker taking the queue and a consumer's batch answered 500)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from dipflow.http.problems import PROBLEM_JSON, install_problem_handlers


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/work")
    async def work() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("x"),
    ],
    ids=["deadlock", "serialization"],
)
async def test_a_transaction_the_database_undid_is_a_503_to_send_again(error: Exception) -> None:
    transport = httpx.ASGITransport(app=app_raising(error))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/work")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM_JSON and answer.headers["retry-after"] == "1"
    assert answer.json()["type"].endswith("/database-conflict")
    assert "nothing of it was done" in answer.json()["detail"]


async def test_any_other_database_error_is_still_a_500() -> None:
    transport = httpx.ASGITransport(
        app=app_raising(asyncpg.exceptions.UndefinedTableError("x")), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/work")).status_code == 500

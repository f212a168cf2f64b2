"""Identity, access, audit, problem+json and Idempotency-Key, on a sample app against the real database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from itertools import product
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from dipflow.auth import Role, mint_token
from dipflow.auth.principal import NATIONAL_ROLES
from tests.infra import Infra
from tests.support.sample_app import AUTH, READERS, SECRET, WRITERS, bearer, build_sample_app, serve

PROBLEM = "application/problem+json"


@pytest.fixture
async def client(database_dsn: str, infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(build_sample_app(database_dsn, infra.kafka_bootstrap)) as c:
        yield c


async def _seed(client: httpx.AsyncClient, person_id: str = "P1", borough: str = "camden") -> None:
    answer = await client.post(
        f"/v1/boroughs/{borough}/people",
        json={"person_id": person_id, "name": "A Person", "age": 30},
        headers=bearer(Role.admin, "*"),
    )
    assert answer.status_code == 201, answer.text


def _assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "correlation_id"} <= set(body)
    return body


# --- tokens ---------------------------------------------------------------------------------------


def _forged(**overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": "x",
        "role": "analyst",
        "area": "camden",
        "iss": AUTH.issuer,
        "aud": AUTH.audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    secret = str(claims.pop("_secret", SECRET))
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("case", "token", "reason"),
    [
        ("expired", lambda: _forged(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "expired"),
        ("wrongly signed", lambda: _forged(_secret="another-secret-" + "y" * 40), "signature"),
        ("wrong audience", lambda: _forged(aud="someone-else"), "audience"),
        ("wrong issuer", lambda: _forged(iss="https://evil.example"), "issuer"),
        ("no expiry", lambda: _forged(exp=None), "not valid"),
        ("unknown role", lambda: _forged(role="superuser"), "role"),
        ("no area", lambda: _forged(area=None), "area"),
        ("worker without worker id", lambda: _forged(role="referral_worker"), "worker_id"),
        ("unsigned", lambda: jwt.encode({"sub": "x"}, "", algorithm="none"), "not valid"),
        ("garbage", lambda: "not-a-jwt", "not valid"),
    ],
)
async def test_bad_tokens_are_refused_with_401(
    client: httpx.AsyncClient, case: str, token: Callable[[], str], reason: str
) -> None:
    """Each token is made when its test runs: made at collection, a valid-but-for-one-claim token expired
    before a slow run reached it and was refused for that instead."""
    await _seed(client)
    answer = await client.get("/v1/boroughs/camden/people/P1", headers={"Authorization": f"Bearer {token()}"})
    body = _assert_problem(answer, 401)
    assert reason in str(body["detail"]), case
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/boroughs/camden/people/P1")
    body = _assert_problem(answer, 401)
    assert body["type"].endswith("missing-token")


# --- the access matrix on the sample router -----------------------------------------------------------

AREAS = {
    "own borough": ("camden", True),
    "own force": ("metropolitan", True),
    "national": ("*", True),
    "other borough": ("birmingham", False),
    "other force": ("west-midlands", False),
}


@pytest.mark.parametrize(("role", "area_case"), list(product(Role, AREAS)))
async def test_each_role_and_area_gets_exactly_the_declared_access(
    client: httpx.AsyncClient, role: Role, area_case: str
) -> None:
    await _seed(client, "P1", "camden")
    area, covers = AREAS[area_case]
    covers = covers and (area != "*" or role in NATIONAL_ROLES)  # national scope: admins and analysts only
    headers = bearer(role, area)

    read = await client.get("/v1/boroughs/camden/people/P1", headers=headers)
    expected_read = 200 if role in READERS and covers else 403
    assert read.status_code == expected_read, read.text
    if expected_read == 200:
        assert read.json() == {"person_id": "P1", "borough": "camden"}
    else:
        _assert_problem(read, 403)

    by_id = await client.get("/v1/people/P1", headers=headers)
    assert by_id.status_code == expected_read, by_id.text

    write = await client.post(
        "/v1/boroughs/camden/people",
        json={"person_id": f"N{abs(hash((role, area_case))) % 10**6}", "name": "B", "age": 40},
        headers=headers,
    )
    assert write.status_code == (201 if role in WRITERS and covers else 403), write.text


# --- audit -----------------------------------------------------------------------------------------


async def test_reads_and_writes_leave_audit_rows_queryable_by_admins_only(
    client: httpx.AsyncClient, database_dsn: str
) -> None:
    manager = bearer(Role.referral_manager, "camden", subject="manager-7")
    created = await client.post(
        "/v1/boroughs/camden/people",
        json={"person_id": "P9", "name": "C", "age": 22},
        headers={**manager, "X-Correlation-ID": "corr-write-1"},
    )
    read = await client.get(
        "/v1/boroughs/camden/people/P9", headers={**manager, "X-Correlation-ID": "corr-read-1"}
    )
    refused = await client.get("/v1/boroughs/birmingham/people/P9", headers=manager)
    assert (created.status_code, read.status_code, refused.status_code) == (201, 200, 403)
    assert read.headers["x-correlation-id"] == "corr-read-1"

    audit = await client.get("/v1/audit", params={"person_id": "P9"}, headers=bearer(Role.admin, "*"))
    assert audit.status_code == 200, audit.text
    entries = audit.json()["items"]
    assert [(e["action"], e["actor"], e["role"], e["area"], e["correlation_id"]) for e in entries] == [
        ("person.read", "manager-7", "referral_manager", "camden", "corr-read-1"),
        ("person.create", "manager-7", "referral_manager", "camden", "corr-write-1"),
    ]
    for role in Role:
        if role is not Role.admin:
            denied = await client.get("/v1/audit", headers=bearer(role, "*"))
            _assert_problem(denied, 403)

    conn = await asyncpg.connect(database_dsn)
    try:
        audit_reads = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'audit.read'")
    finally:
        await conn.close()
    assert audit_reads == 1


async def test_audit_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    admin = bearer(Role.admin, "*")
    for i in range(5):
        await _seed(client, f"Q{i}")
    first = (
        await client.get("/v1/audit", params={"limit": 3, "action": "person.create"}, headers=admin)
    ).json()
    second = (
        await client.get(
            "/v1/audit",
            params={"limit": 3, "action": "person.create", "cursor": first["next_cursor"]},
            headers=admin,
        )
    ).json()
    people = [e["person_id"] for e in first["items"] + second["items"]]
    assert people == ["Q4", "Q3", "Q2", "Q1", "Q0"]
    assert second["next_cursor"] is None


# --- problem+json ---------------------------------------------------------------------------------


async def test_validation_errors_list_each_field_and_reason(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/boroughs/camden/people",
        json={"person_id": "lower case!", "age": 5},
        headers=bearer(Role.admin, "*"),
    )
    body = _assert_problem(answer, 422)
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert set(fields) == {"body.person_id", "body.name", "body.age"}
    assert "pattern" in fields["body.person_id"]
    assert "greater than or equal to 10" in fields["body.age"]


async def test_not_found_conflict_and_unknown_route_are_problems(client: httpx.AsyncClient) -> None:
    admin = bearer(Role.admin, "*")
    _assert_problem(await client.get("/v1/boroughs/camden/people/NOPE", headers=admin), 404)
    _assert_problem(await client.get("/v1/no/such/route", headers=admin), 404)
    await _seed(client, "P5")
    duplicate = await client.post(
        "/v1/boroughs/camden/people", json={"person_id": "P5", "name": "D", "age": 50}, headers=admin
    )
    assert _assert_problem(duplicate, 409)["type"].endswith("duplicate-person")
    _assert_problem(await client.delete("/v1/boroughs/camden/people/P5", headers=admin), 405)


async def test_unexpected_errors_give_a_correlation_id_and_nothing_personal(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/boom", headers={**bearer(Role.analyst), "X-Correlation-ID": "corr-500"})
    body = _assert_problem(answer, 500)
    assert body["correlation_id"] == "corr-500"
    assert answer.headers["x-correlation-id"] == "corr-500"
    for leak in ("Jane", "01/123456X", "Traceback", "RuntimeError", "sample_app.py"):
        assert leak not in answer.text


# --- Idempotency-Key ------------------------------------------------------------------------------


async def _count(database_dsn: str) -> int:
    conn = await asyncpg.connect(database_dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM sample_people"))
    finally:
        await conn.close()


async def test_same_key_and_body_replays_the_stored_answer_with_one_effect(
    client: httpx.AsyncClient, database_dsn: str
) -> None:
    headers = {**bearer(Role.admin, "*"), "Idempotency-Key": "k-1"}
    body = {"person_id": "I1", "name": "E", "age": 33}
    first = await client.post("/v1/boroughs/camden/people", json=body, headers=headers)
    second = await client.post("/v1/boroughs/camden/people", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(database_dsn) == 1

    other = await client.post("/v1/boroughs/camden/people", json={**body, "name": "F"}, headers=headers)
    assert _assert_problem(other, 422)["type"].endswith("idempotency-key-reused")
    assert await _count(database_dsn) == 1


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, database_dsn: str) -> None:
    body = {"person_id": "I2", "name": "G", "age": 40}
    a = await client.post(
        "/v1/boroughs/camden/people",
        json=body,
        headers={**bearer(Role.admin, "*", subject="a"), "Idempotency-Key": "shared"},
    )
    b = await client.post(
        "/v1/boroughs/camden/people",
        json={**body, "person_id": "I3"},
        headers={**bearer(Role.admin, "*", subject="b"), "Idempotency-Key": "shared"},
    )
    assert (a.status_code, b.status_code) == (201, 201)
    assert await _count(database_dsn) == 2


async def test_concurrent_repeats_produce_one_effect(client: httpx.AsyncClient, database_dsn: str) -> None:
    headers = {**bearer(Role.admin, "*"), "Idempotency-Key": "burst"}
    body = {"person_id": "I4", "name": "H", "age": 50}
    answers = await asyncio.gather(
        *(client.post("/v1/boroughs/camden/people", json=body, headers=headers) for _ in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert await _count(database_dsn) == 1
    again = await client.post("/v1/boroughs/camden/people", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"


async def test_bad_idempotency_key_is_a_400_problem(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/v1/boroughs/camden/people",
        json={"person_id": "I5", "name": "J", "age": 50},
        headers={**bearer(Role.admin, "*"), "Idempotency-Key": "x" * 201},
    )
    _assert_problem(answer, 400)


def test_tokens_minted_by_the_cli_helper_verify() -> None:
    from dipflow.auth import TokenVerifier

    principal = TokenVerifier(AUTH).verify(
        mint_token(
            SECRET,
            subject="w",
            role=Role.referral_worker,
            area="camden",
            worker_id="W7",
            issuer=AUTH.issuer,
            audience=AUTH.audience,
        )
    )
    assert (principal.role, principal.area, principal.worker_id) == (Role.referral_worker, "camden", "W7")

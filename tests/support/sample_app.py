"""A small app built the way every service is built, to prove access, audit, errors and idempotency."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.http.access import AuthContext, requires
from dipflow.http.app import Service, ServiceResources, StartHook, create_service_app
from dipflow.http.problems import Problem
from dipflow.settings import ServiceSettings
from dipflow.uow import Producer
from dipflow.wiring import Wiring

SECRET = "test-secret-" + "x" * 40
AUTH = AuthSettings(dev_secret=SECRET, issuer="dipflow-test", audience="dipflow")

READERS = (Role.referral_manager, Role.analyst, Role.admin)
WRITERS = (Role.referral_manager, Role.admin)


class NewPerson(BaseModel):
    person_id: str = Field(pattern=r"^[A-Z0-9/]{2,20}$")
    name: str = Field(min_length=1, max_length=100)
    age: int = Field(ge=10, le=120)


router = APIRouter()


@router.get("/v1/boroughs/{borough}/people/{person_id}")
async def read_person(
    borough: str, person_id: str, ctx: AuthContext = Depends(requires(*READERS, area="borough"))
) -> dict[str, str]:
    row = await ctx.pool.fetchrow(
        "SELECT person_id, borough FROM sample_people WHERE person_id = $1 AND borough = $2",
        person_id,
        borough,
    )
    if row is None:
        raise Problem(404, "no such person in this borough")
    await ctx.audit("person.read", person_id)
    return dict(row)


@router.post("/v1/boroughs/{borough}/people", status_code=201)
async def add_person(
    borough: str, person: NewPerson, ctx: AuthContext = Depends(requires(*WRITERS, area="borough"))
) -> dict[str, str]:
    async with ctx.unit_of_work() as uow:
        inserted = await uow.conn.fetchval(
            "INSERT INTO sample_people (person_id, borough, name) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING person_id",
            person.person_id,
            borough,
            person.name,
        )
        if inserted is None:
            raise Problem(409, "this person is already recorded", kind="duplicate-person")
        await uow.audit("person.create", person.person_id)
    return {"person_id": person.person_id, "borough": borough}


@router.get("/v1/people/{person_id}")
async def read_by_id(person_id: str, ctx: AuthContext = Depends(requires(*READERS))) -> dict[str, str]:
    row = await ctx.pool.fetchrow(
        "SELECT person_id, borough FROM sample_people WHERE person_id = $1", person_id
    )
    if row is None:
        raise Problem(404, "no such person")
    ctx.require_area(row["borough"])
    await ctx.audit("person.read", person_id)
    return dict(row)


@router.get("/v1/boom")
async def boom(ctx: AuthContext = Depends(requires())) -> None:
    raise RuntimeError("person 01/123456X named Jane Doe broke it")


async def _create_table(resources: ServiceResources) -> None:
    await resources.pool.execute(
        "CREATE TABLE IF NOT EXISTS sample_people (person_id text PRIMARY KEY, borough text, name text)"
    )


def build_sample_app(database_url: str, kafka_bootstrap: str, on_start: Sequence[StartHook] = ()) -> FastAPI:
    settings = ServiceSettings(
        service_name="sample", database_url=database_url, kafka_bootstrap=kafka_bootstrap
    )
    # the sample's tables live beside custody's migrations (the audit and idempotency tables it needs)
    service = Service("dipflow_custody", Producer("sample", "sample.events.v1"), "test app", [router])
    return create_service_app(
        service, settings, Wiring(on_start=[_create_table, *on_start], relay=False), AUTH
    )


def token(role: Role, area: str = "camden", **kwargs: object) -> str:
    worker_id = kwargs.pop("worker_id", "W1" if role is Role.referral_worker else None)
    return mint_token(
        SECRET,
        subject=str(kwargs.pop("subject", f"{role}-user")),
        role=role,
        area=area,
        worker_id=worker_id,  # type: ignore[arg-type]
        issuer=AUTH.issuer,
        audience=AUTH.audience,
        **kwargs,  # type: ignore[arg-type]
    )


def bearer(role: Role, area: str = "camden", **kwargs: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, area, **kwargs)}"}


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

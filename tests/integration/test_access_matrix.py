"""The access matrix, generated from the routes: every endpoint of every service is called by every role with
its widest token (national for admins and analysts, the force for the others, whose national tokens are
refused), by the allowed roles with a token of the right area and of another area, and with no, expired and
forged tokens. Each answer is compared with the declared table (docs/access.md, from `requires(...)`)."""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import httpx
import pytest

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.auth.principal import NATIONAL_ROLES
from dipflow.db.database import server_dsn
from dipflow.devstack.access import Rule, rules_of
from dipflow.devstack.services import SERVICES
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from tests.infra import Infra
from tests.support.sample_app import serve

pytestmark = pytest.mark.timeout(300)
SECRET = "access-matrix-secret-" + "x" * 30
QUERY = {"area": "lambeth", "borough": "lambeth", "suite": "MET-BRIXTON"}


def token(role: Role, area: str, secret: str = SECRET, **kw: Any) -> dict[str, str]:
    worker = "W-MATRIX" if role is Role.referral_worker else None
    return {
        "Authorization": f"Bearer {mint_token(secret, subject=f'{role}-m', role=role, area=area, worker_id=worker, **kw)}"
    }


async def call(client: httpx.AsyncClient, rule: Rule, headers: dict[str, str], area: str = "lambeth") -> int:
    path = re.sub(r"\{(\w+)\}", lambda m: area if m.group(1) == rule.area_param else "1", rule.path)
    params = {k: (area if k == rule.area_param else v) for k, v in QUERY.items()}
    body: dict[str, Any] | None = None if rule.method in ("GET", "DELETE") else {}
    answer = await client.request(rule.method, path, params=params, json=body, headers=headers)
    return answer.status_code


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
async def test_every_route_answers_every_role_as_declared(spec: Any, infra: Infra, unique: str) -> None:
    await ensure_topics(infra.kafka_bootstrap, all_topics())
    module = importlib.import_module(f"{spec.package}.main")
    settings_module = importlib.import_module(f"{spec.package}.settings")
    settings_class = next(
        v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings"
    )
    settings = settings_class(
        service_name=f"matrix-{spec.name}-{unique}",
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=server_dsn(infra.postgres_dsn, f"matrix_{unique}"),
    )
    app = module.create_app(settings, AuthSettings(dev_secret=SECRET))
    rules = rules_of(spec.name, app)
    assert rules, "the table is empty"
    wrong: list[str] = []
    async with serve(app) as client:
        for rule in rules:
            what = f"{rule.method} {rule.path}"
            for label, headers in (
                ("no token", {}),
                ("expired", token(Role.admin, "*", now=time.time() - 10 * 3600)),
                ("forged", token(Role.admin, "*", secret="not-the-secret-" + "y" * 30)),
            ):
                if (status := await call(client, rule, headers)) != 401:
                    wrong.append(f"{what}: {label} gave {status}, not 401")
            for role in Role:
                allowed = not rule.roles or role in rule.roles
                if (
                    role not in NATIONAL_ROLES
                    and (status := await call(client, rule, token(role, "*"))) != 403
                ):
                    wrong.append(f"{what}: {role} with a national token got {status}, not 403")
                if allowed and rule.path.endswith("/stream"):
                    continue  # an open stream never ends; its denials are checked
                widest = "*" if role in NATIONAL_ROLES else "metropolitan"
                status = await call(client, rule, token(role, widest))
                refused = (
                    (401,) if rule.record else (401, 403)
                )  # a made-up record may be refused: see test_access_policy
                if allowed and (status in refused or status >= 500):
                    wrong.append(f"{what}: allowed {role} gave {status}")
                if not allowed and status != 403:
                    wrong.append(f"{what}: {role} is not allowed but got {status}")
                if allowed and rule.area_param and not rule.path.endswith("/stream"):
                    if (status := await call(client, rule, token(role, "camden"))) != 403:
                        wrong.append(f"{what}: {role} of camden asking for lambeth got {status}")
                    if (status := await call(client, rule, token(role, "lambeth"))) in (401, 403):
                        wrong.append(f"{what}: {role} of lambeth asking for lambeth got {status}")
    assert wrong == [], "\n".join(wrong)

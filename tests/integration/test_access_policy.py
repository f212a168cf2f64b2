"""Access as docs/access-policy.md says, checked on a world of real records in the four services (real Kafka and
PostgreSQL), not from the routes' own declarations.

Every route that names a record is called by every role from the record's own borough, its force, another
borough of the same force and another force; workers also as the worker the case is assigned to, another worker
of the same borough, and the assigned worker's id in a token of another borough. The expected outcome of each
call is in ``POLICY`` below, written from the policy page. Then the findings of the independent probe, one test
each: idempotent replays across contexts, a worker's area, bail agreements, clinical notes, PPO status across
forces, and the purposes of test results (T13).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dipflow.auth import Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.devstack.access import rules_of
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from dipflow_breach.main import create_app as breach_app
from dipflow_breach.settings import BreachSettings
from dipflow_custody.main import create_app as custody_app
from dipflow_custody.settings import CustodySettings
from dipflow_ppo_register.main import create_app as ppo_app
from dipflow_ppo_register.settings import PpoRegisterSettings
from dipflow_referral.main import create_app as referral_app
from dipflow_referral.settings import ReferralSettings
from tests.infra import Infra
from tests.integration.referral.stack import AUTH, SECRET
from tests.support.sample_app import serve
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(300)

# The records are in camden (suite MET-CAMDEN): few other tests book in there, whose cases the referral service
# here would also take from the shared topic and give to the same workers.
OWN, FORCE, NEIGHBOUR, ELSEWHERE = "camden", "metropolitan", "lambeth", "manchester"
SUITE, NEIGHBOURS_SUITE = "MET-CAMDEN", "MET-BRIXTON"
AREA_RELATIONS = (OWN, FORCE, NEIGHBOUR, ELSEWHERE)
ASSIGNED, OTHER_WORKER, ASSIGNED_ELSEWHERE = (
    "assigned",
    "another worker of lambeth",
    "assigned id, camden token",
)

# How a role may reach the records of a route (from docs/access-policy.md):
AREA = "in their area"  # the record's borough, or its force
WORKER = "assigned to them, in their area"  # referral workers
FORCE_REGISTER = "their force's register"  # custody's PPO status, custody reading the register
NATIONAL = "national"  # admins (and analysts) with a national token
ANYONE = "anyone signed in"  # reference data: everyone reads it
CUSTODY = {Role.custody_officer: AREA, Role.inspector: AREA}
STAFF = {Role.referral_worker: WORKER, Role.referral_manager: AREA, Role.admin: NATIONAL}
LIAISON = {Role.probation_liaison: AREA, Role.admin: NATIONAL}

POLICY: dict[tuple[str, str, str], dict[Role, str]] = {
    # custody: detentions at suites in the officer's area; the inspector decides authorisations there
    ("custody", "GET", "/v1/detentions/{detention_id}"): {**CUSTODY, Role.admin: NATIONAL},
    # the record given to the person tested: the custody officers of the suite's area alone
    ("custody", "GET", "/v1/detentions/{detention_id}/test-record"): {Role.custody_officer: AREA},
    **{
        ("custody", "POST", f"/v1/detentions/{{detention_id}}/{action}"): CUSTODY
        for action in (
            "appropriate-adult",
            "charge",
            "confirmation-dispatch",
            "confirmatory-result",
            "offence-disposal",
            "offences",
            "person-told",
            "refusal",
            "release",
            "results",
            "sample",
            "warning",
        )
    },
    ("custody", "GET", "/v1/suites/{suite}/board"): CUSTODY,
    ("custody", "POST", "/v1/detentions/{detention_id}/inspector-decision"): {Role.inspector: AREA},
    ("custody", "POST", "/v1/detentions/{detention_id}/written-confirmation"): {Role.inspector: AREA},
    ("custody", "GET", "/v1/ppo-status/{person_id:path}"): {
        Role.custody_officer: FORCE_REGISTER,
        Role.inspector: FORCE_REGISTER,
    },
    ("custody", "POST", "/v1/notifications/{notification_id}/end"): {Role.admin: NATIONAL},
    # reference data: everyone signed in reads it, admins change it
    **{
        ("custody", "GET", f"/v1/{kind}/{{code}}/history"): dict.fromkeys(Role, ANYONE)
        for kind in ("areas", "suites")
    },
    ("custody", "POST", "/v1/reference-imports/{kind}"): {Role.admin: NATIONAL},
    # alerts: the role that must act reaches the route; the alert's own area and assignee are checked once it is
    # loaded (tests/integration/*/test_*_alerts.py), so an unknown alert id is a 404 for them, a 403 for others
    **{
        (service, "POST", f"/v1/alerts/{{alert_id}}/{action}"): {
            **dict.fromkeys(roles, ANYONE),
            Role.admin: NATIONAL,
        }
        for service, roles in (
            ("custody", (Role.custody_officer, Role.inspector)),
            ("referral", (Role.referral_worker, Role.referral_manager, Role.court_liaison)),
            ("breach", (Role.police_enforcement, Role.probation_liaison)),
        )
        for action in ("acknowledge", "resolve")
    },
    ("custody", "GET", "/v1/privacy/erasure-requests/{request_id}"): {Role.admin: NATIONAL},
    ("custody", "GET", "/v1/privacy/erasures/{request_id}"): {Role.admin: NATIONAL},
    # referral: workers their own cases in their area, managers their area, clinical notes for staff only
    ("referral", "GET", "/v1/assessments/{assessment_id}"): {
        **STAFF,
        Role.custody_officer: AREA,
        Role.court_liaison: AREA,
    },
    ("referral", "POST", "/v1/assessments/{assessment_id}/appointment"): {
        **STAFF,
        Role.custody_officer: AREA,
    },
    ("referral", "POST", "/v1/assessments/{assessment_id}/assign"): {
        Role.referral_manager: AREA,
        Role.admin: NATIONAL,
    },
    ("referral", "POST", "/v1/assessments/{assessment_id}/attendance"): STAFF,
    ("referral", "POST", "/v1/assessments/{assessment_id}/follow-up"): STAFF,
    ("referral", "POST", "/v1/assessments/{assessment_id}/treatment"): STAFF,
    ("referral", "GET", "/v1/assessments/{assessment_id}/clinical-notes"): {
        Role.referral_worker: WORKER,
        Role.referral_manager: AREA,
    },  # an admin only by breaking the glass: test_admins_read_clinical_notes_only_by_breaking_the_glass
    ("referral", "POST", "/v1/assessments/{assessment_id}/clinical-notes"): {
        Role.referral_worker: WORKER,
        Role.referral_manager: AREA,
    },
    ("referral", "POST", "/v1/assessments/{assessment_id}/impose"): {
        Role.custody_officer: AREA,
        Role.admin: NATIONAL,
    },
    ("referral", "GET", "/v1/assessments/{assessment_id}/notices"): {
        **STAFF,
        Role.custody_officer: AREA,
        Role.court_liaison: AREA,
    },
    ("referral", "POST", "/v1/bail-cases/{detention_id}/agreement"): {
        Role.custody_officer: AREA,
        Role.referral_worker: WORKER,
        Role.admin: NATIONAL,
    },
    ("referral", "POST", "/v1/bail-cases/{detention_id}/outcome"): {
        Role.court_liaison: AREA,
        Role.admin: NATIONAL,
    },
    ("referral", "POST", "/v1/bail-cases/{detention_id}/condition-attendance"): STAFF,
    ("referral", "POST", "/v1/bail-cases/{detention_id}/breach"): {
        **STAFF,
        Role.court_liaison: AREA,
        Role.police_enforcement: AREA,
    },
    ("referral", "POST", "/v1/workers/{worker_id}/leave"): {
        Role.referral_manager: AREA,
        Role.admin: NATIONAL,
    },
    ("referral", "PUT", "/v1/teams/{area}/webhook"): {Role.referral_manager: AREA, Role.admin: NATIONAL},
    ("referral", "GET", "/v1/teams/{area}/webhook-deliveries"): {
        Role.referral_manager: AREA,
        Role.admin: NATIONAL,
    },
    ("referral", "GET", "/v1/privacy/erasures/{request_id}"): {Role.admin: NATIONAL},
    # ppo-register: coordinators their borough's register; custody the register of their force
    ("ppo-register", "POST", "/v1/panel-flags/{flag_id}/review"): {Role.ppo_coordinator: AREA},
    ("ppo-register", "POST", "/v1/register/{person_id:path}/end"): {
        Role.ppo_coordinator: AREA,
        Role.admin: NATIONAL,
    },
    ("ppo-register", "GET", "/v1/register/{person_id:path}/history"): {
        Role.ppo_coordinator: AREA,
        Role.probation_liaison: AREA,
        Role.custody_officer: FORCE_REGISTER,
        Role.inspector: FORCE_REGISTER,
        Role.admin: NATIONAL,
    },
    ("ppo-register", "GET", "/v1/privacy/erasures/{request_id}"): {Role.admin: NATIONAL},
    # a borough's K1 baseline and target: analysts (and admins) set them
    ("ppo-register", "PUT", "/v1/targets/k1/{borough}"): {Role.analyst: NATIONAL, Role.admin: NATIONAL},
    # breach: probation liaison of the area
    ("breach", "POST", "/v1/breach-cases/{case_id}/enforcement"): LIAISON,
    ("breach", "POST", "/v1/breach-cases/{case_id}/hearing"): LIAISON,
    ("breach", "PUT", "/v1/liaison/{area}/webhook"): LIAISON,
    ("breach", "GET", "/v1/orders/{order_id}"): LIAISON,
    ("breach", "POST", "/v1/orders/{order_id}/compliance"): LIAISON,
    ("breach", "POST", "/v1/orders/{order_id}/end"): LIAISON,
    ("breach", "POST", "/v1/orders/{order_id}/high-risk"): LIAISON,
    ("breach", "GET", "/v1/privacy/erasures/{request_id}"): {Role.admin: NATIONAL},
}


def allowed(how: str | None, relation: str) -> bool:
    """Whether a caller in ``relation`` to the record may act on it, reaching it ``how`` (None: not at all)."""
    if how is None:
        return False
    return {
        AREA: relation in (OWN, FORCE),
        WORKER: relation in (ASSIGNED,),
        FORCE_REGISTER: relation in (OWN, FORCE, NEIGHBOUR),
        NATIONAL: relation == NATIONAL,
        ANYONE: True,
    }[how]


# -- the world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, httpx.AsyncClient]
    unique: str
    ids: dict[str, str] = field(default_factory=dict)

    def worker(self, name: str) -> str:
        return f"W-{name}-{self.unique}"


def token(role: Role, area: str, worker_id: str | None = None, subject: str | None = None) -> dict[str, str]:
    signed = mint_token(
        SECRET, subject=subject or f"{role}-{area}", role=role, area=area, worker_id=worker_id
    )
    return {"Authorization": f"Bearer {signed}"}


async def ok(answer: Any, status: int = 200) -> Any:
    response = await answer
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


async def _positive(w: World, person: str, at: datetime, *, charge: bool = False) -> str:
    officer = token(Role.custody_officer, FORCE)
    custody = w.clients["custody"]
    body = {
        "person_id": person,
        "name": "Policy Person",
        "date_of_birth": "1970-01-15",
        "home_area": OWN,
        "suite": SUITE,
        "arrested_at": at.isoformat(),
        "booked_in_at": (at + timedelta(minutes=5)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": at.date().isoformat()}],
    }
    did: str = (await ok(custody.post("/v1/detentions", json=body, headers=officer), 201))["detention_id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        ("warning", {"at": (at + timedelta(minutes=10)).isoformat()}),
        ("sample", {"at": (at + timedelta(minutes=15)).isoformat()}),
        (
            "results",
            {"drug": "cocaine", "result": "positive", "at": (at + timedelta(minutes=20)).isoformat()},
        ),
    ]
    if charge:
        steps.append(("charge", {"codes": ["TA1968-s1"], "at": (at + timedelta(minutes=30)).isoformat()}))
    for action, payload in steps:
        await ok(custody.post(f"/v1/detentions/{did}/{action}", json=payload, headers=officer))
    return did


async def _assessment_of(w: World, did: str) -> dict[str, Any]:
    manager = token(Role.referral_manager, OWN)

    async def found() -> Any:
        rows = await ok(w.clients["referral"].get("/v1/assessments", params={"area": OWN}, headers=manager))
        return next((a for a in rows if a["detention_id"] == did), None)

    assessment: dict[str, Any] = await until(found, "the required assessment")
    return assessment


async def build_world(w: World) -> None:
    referral, ppo, breach = w.clients["referral"], w.clients["ppo-register"], w.clients["breach"]
    manager = token(Role.referral_manager, OWN)
    for name, area, suite in (("A", OWN, SUITE), ("C", NEIGHBOUR, NEIGHBOURS_SUITE)):
        await ok(
            referral.post(
                "/v1/workers",
                headers=token(Role.referral_manager, area),
                json={
                    "worker_id": w.worker(name),
                    "name": name,
                    "area": area,
                    "suites": [suite],
                    "daily_capacity": 50,
                },
            ),
            201,
        )
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    person, flagged, ppo_person = (f"L-{w.unique.upper()}-{n}" for n in (1, 2, 3))
    did = await _positive(w, person, at, charge=True)
    assessment = await _assessment_of(w, did)
    assert assessment["initial"]["worker_id"] == w.worker("A")
    await ok(
        referral.post(
            "/v1/workers",
            headers=manager,
            json={
                "worker_id": w.worker("B"),
                "name": "B",
                "area": OWN,
                "suites": [SUITE],
                "daily_capacity": 8,
            },
        ),
        201,
    )

    async def bail_case() -> Any:
        rows = await ok(
            referral.get("/v1/bail-cases", params={"area": OWN}, headers=token(Role.court_liaison, OWN))
        )
        return any(c["detention_id"] == did for c in rows)

    await until(bail_case, "the bail case")
    # a second positive whose assessment is failed: a panel flag (the threshold is one positive here)
    flagged_did = await _positive(w, flagged, at + timedelta(minutes=1))
    flagged_case = await _assessment_of(w, flagged_did)
    await ok(
        referral.post(
            f"/v1/assessments/{flagged_case['assessment_id']}/impose",
            json={},
            headers=token(Role.custody_officer, FORCE),
        )
    )
    assigned_to = flagged_case["initial"]["worker_id"]
    assigned_area = NEIGHBOUR if assigned_to == w.worker("C") else OWN
    await ok(
        referral.post(
            f"/v1/assessments/{flagged_case['assessment_id']}/attendance",
            json={"outcome": "failed_to_attend"},
            headers=token(Role.referral_worker, assigned_area, assigned_to),
        )
    )
    coordinator = token(Role.ppo_coordinator, OWN)

    async def flag() -> Any:
        rows = await ok(ppo.get("/v1/panel-flags", params={"borough": OWN}, headers=coordinator))
        return next((f["id"] for f in rows if f["person_id"] == flagged), None)

    flag_id = await until(flag, "the panel flag")
    await ok(
        ppo.post(
            "/v1/register",
            headers=coordinator,
            json={
                "person_id": ppo_person,
                "borough": OWN,
                "strand": "catch_and_convict",
                "start_date": "2008-01-07",
                "reason": "policy test",
            },
        ),
        201,
    )

    async def in_custody_copy() -> Any:
        answer = await w.clients["custody"].get(
            f"/v1/ppo-status/{ppo_person}", headers=token(Role.custody_officer, FORCE)
        )
        return answer.status_code == 200 and answer.json()["is_ppo"]

    await until(in_custody_copy, "custody's copy of the register")
    liaison = token(Role.probation_liaison, OWN)
    order_id = f"DRR-{w.unique}"
    await ok(
        breach.post(
            "/v1/orders",
            headers=liaison,
            json={
                "person_id": person,
                "order_id": order_id,
                "area": OWN,
                "court": "Camberwell Green",
                "start_date": "2008-01-14",
                "treatment_months": 24,
                "responsible_officer": "PO Policy",
            },
        ),
        201,
    )
    for day in ("2008-03-03", "2008-06-02"):
        await ok(
            breach.post(
                f"/v1/orders/{order_id}/compliance",
                headers=liaison,
                json={"kind": "unacceptable_absence", "on": day},
            )
        )
    case_id = (await ok(breach.get("/v1/breach-cases", params={"area": OWN}, headers=liaison)))[0]["case_id"]
    w.ids = {
        "detention_id": did,
        "assessment_id": assessment["assessment_id"],
        "worker_id": w.worker("A"),
        "person_id": ppo_person,
        "flag_id": str(flag_id),
        "order_id": order_id,
        "case_id": case_id,
        "area": OWN,
        "borough": OWN,
        "request_id": str(uuid.uuid4()),
        "notification_id": "1",
        "code": OWN,
        "alert_id": str(uuid.uuid4()),
        "kind": "areas",
        "person": person,
        "suite": SUITE,
    }


@pytest.fixture(scope="module")
async def world(infra: Infra) -> AsyncIterator[World]:
    unique = uuid.uuid4().hex[:8]
    await ensure_topics(infra.kafka_bootstrap, all_topics())

    def common(service: str) -> dict[str, Any]:
        return {
            "service_name": f"{service}-policy-{unique}",
            "kafka_bootstrap": infra.kafka_bootstrap,
            "database_url": server_dsn(infra.postgres_dsn, f"{service.replace('-', '_')}_policy_{unique}"),
        }

    async with AsyncExitStack() as apps:
        clients = {
            "custody": await apps.enter_async_context(
                serve(custody_app(CustodySettings(**common("custody")), AUTH))
            ),
            "referral": await apps.enter_async_context(
                serve(referral_app(ReferralSettings(**common("referral")), AUTH))
            ),
            "ppo-register": await apps.enter_async_context(
                serve(ppo_app(PpoRegisterSettings(**common("ppo"), positives_for_panel_flag=1), AUTH))
            ),
            "breach": await apps.enter_async_context(
                serve(breach_app(BreachSettings(**common("breach")), AUTH))
            ),
        }
        w = World(clients, unique)
        await build_world(w)
        yield w


# -- the matrix -----------------------------------------------------------------------------------------------


def callers(w: World, role: Role) -> list[tuple[str, dict[str, str]]]:
    if role in (Role.admin, Role.analyst):
        return [(NATIONAL, token(role, "*"))]
    if role is Role.referral_worker:
        return [
            (ASSIGNED, token(role, OWN, w.worker("A"))),
            (FORCE, token(role, FORCE, w.worker("B"))),
            (OTHER_WORKER, token(role, OWN, w.worker("B"))),
            (ASSIGNED_ELSEWHERE, token(role, NEIGHBOUR, w.worker("A"))),
            (ELSEWHERE, token(role, ELSEWHERE, w.worker("A"))),
        ]
    return [(relation, token(role, relation)) for relation in AREA_RELATIONS]


@pytest.mark.parametrize("service", ["custody", "referral", "ppo-register", "breach"])
async def test_every_route_that_names_a_record_answers_each_role_and_area_as_the_policy_says(
    world: World, service: str
) -> None:
    app = world.clients[service]._transport.app  # type: ignore[attr-defined]
    routes = [r for r in rules_of(service, app) if "{" in r.path]
    unlisted = [f"{r.method} {r.path}" for r in routes if (service, r.method, r.path) not in POLICY]
    assert not unlisted, f"routes that name a record but are not in POLICY: {unlisted}"
    wrong: list[str] = []
    for rule in routes:
        expected_by_role = POLICY[(service, rule.method, rule.path)]
        path = rule.path.replace(":path", "")
        for name, value in world.ids.items():
            path = path.replace("{" + name + "}", value)
        for role in Role:
            for relation, headers in callers(world, role):
                answer = await world.clients[service].request(
                    rule.method, path, json=None if rule.method == "GET" else {}, headers=headers
                )
                may = allowed(expected_by_role.get(role), relation)
                if may and (answer.status_code in (401, 403) or answer.status_code >= 500):
                    wrong.append(
                        f"{rule.method} {rule.path}: {role} ({relation}) refused {answer.status_code}"
                    )
                if not may and answer.status_code != 403:
                    wrong.append(
                        f"{rule.method} {rule.path}: {role} ({relation}) got {answer.status_code}, not 403"
                    )
    assert wrong == [], "\n".join(wrong)


# -- the probe's findings -------------------------------------------------------------------------------------


async def test_an_idempotent_replay_only_answers_the_same_subject_role_and_area_after_its_checks(
    world: World,
) -> None:
    custody = world.clients["custody"]
    url = f"/v1/detentions/{world.ids['detention_id']}/offences"
    body = {"offence": {"code": "CDA1971-s1", "offence_date": datetime.now(UTC).date().isoformat()}}
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex[:8]}"}
    alice = token(Role.custody_officer, FORCE, subject="alice")
    first = await custody.post(url, json=body, headers={**alice, **key})
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = await custody.post(url, json=body, headers={**alice, **key})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    for other in (
        token(Role.analyst, "*", subject="alice"),  # another role
        token(Role.custody_officer, ELSEWHERE, subject="alice"),  # another area
        token(Role.custody_officer, NEIGHBOUR, subject="alice"),  # another borough of the same force
    ):
        refused = await custody.post(url, json=body, headers={**other, **key})
        assert refused.status_code == 403 and "idempotent-replayed" not in refused.headers, refused.text
    bob = await custody.post(
        url, json=body, headers={**token(Role.custody_officer, FORCE, subject="bob"), **key}
    )
    assert "idempotent-replayed" not in bob.headers  # another subject: a fresh request, authorised afresh
    assert bob.status_code == 200


async def test_a_referral_workers_area_is_checked_not_only_the_worker_id(world: World) -> None:
    referral = world.clients["referral"]
    assigned_id_elsewhere = token(Role.referral_worker, NEIGHBOUR, world.worker("A"))
    url = f"/v1/assessments/{world.ids['assessment_id']}"
    for path in (url, f"{url}/notices", f"{url}/clinical-notes"):
        assert (await referral.get(path, headers=assigned_id_elsewhere)).status_code == 403, path
    assert (await referral.get("/v1/inbox", headers=assigned_id_elsewhere)).status_code == 403
    mine = await referral.get("/v1/inbox", headers=token(Role.referral_worker, OWN, world.worker("A")))
    assert mine.status_code == 200 and world.ids["assessment_id"] in [i["assessment_id"] for i in mine.json()]


async def test_only_the_assigned_worker_records_a_bail_agreement(world: World) -> None:
    referral = world.clients["referral"]
    url = f"/v1/bail-cases/{world.ids['detention_id']}/agreement"
    other = await referral.post(
        url, json={"agreed": True}, headers=token(Role.referral_worker, OWN, world.worker("B"))
    )
    assert other.status_code == 403 and world.ids["person"] not in other.text
    assigned = await referral.post(
        url, json={"agreed": True}, headers=token(Role.referral_worker, OWN, world.worker("A"))
    )
    assert assigned.status_code == 200, assigned.text


async def test_admins_read_clinical_notes_only_by_breaking_the_glass(world: World) -> None:
    referral = world.clients["referral"]
    url = f"/v1/assessments/{world.ids['assessment_id']}/clinical-notes"
    await ok(
        referral.post(
            url,
            json={"note": "talked about crack use"},
            headers=token(Role.referral_worker, OWN, world.worker("A")),
        ),
        201,
    )
    admin = token(Role.admin, "*", subject="admin-on-call")
    refused = await referral.get(url, headers=admin)
    assert refused.status_code == 403 and "talked about" not in refused.text
    reason = "court order 2008/117 requires the notes today"
    glass = await referral.get(url, params={"break_glass_reason": reason}, headers=admin)
    assert glass.status_code == 200 and glass.json()[0]["note"] == "talked about crack use"
    assert (await referral.post(url, json={"note": "x"}, headers=admin)).status_code == 403
    audit = await ok(referral.get("/v1/audit", params={"action": "clinical_note.break_glass"}, headers=admin))
    entry = next(e for e in audit["items"] if e["actor"] == "admin-on-call")
    assert entry["detail"]["reason"] == reason


async def test_ppo_status_is_for_custody_of_the_registers_force_or_where_the_person_is_detained(
    world: World,
) -> None:
    custody = world.clients["custody"]
    ppo, detained = world.ids["person_id"], world.ids["person"]
    expected = {
        (ppo, OWN): 200,
        (ppo, NEIGHBOUR): 200,
        (ppo, FORCE): 200,
        (ppo, ELSEWHERE): 403,
        (detained, OWN): 200,
        (detained, FORCE): 200,
        (detained, NEIGHBOUR): 403,
        (detained, ELSEWHERE): 403,
    }
    got = {
        (person, area): (
            await custody.get(f"/v1/ppo-status/{person}", headers=token(Role.inspector, area))
        ).status_code
        for person, area in expected
    }
    assert got == expected
    nobody = await custody.get("/v1/ppo-status/L-NOBODY-1", headers=token(Role.custody_officer, ELSEWHERE))
    assert nobody.status_code == 403  # the same answer whether or not the person is a PPO


async def test_national_scope_is_refused_to_roles_whose_work_is_not_national(world: World) -> None:
    for role in set(Role) - {Role.admin, Role.analyst}:
        answer = await world.clients["referral"].get("/v1/unassigned", headers=token(role, "*", "W-X"))
        assert answer.status_code == 403 and answer.json()["type"].endswith("national-scope-refused"), role


async def test_t13_test_results_are_read_only_for_a_permitted_purpose_and_the_purpose_is_audited(
    world: World,
) -> None:
    ppo, custody, referral = (
        world.clients["ppo-register"],
        world.clients["custody"],
        world.clients["referral"],
    )
    for role in (Role.police_enforcement, Role.analyst):
        area = "*" if role is Role.analyst else OWN
        listed = await ppo.get("/v1/tested-positive", params={"borough": OWN}, headers=token(role, area))
        assert listed.status_code == 403, role
    coordinator = token(Role.ppo_coordinator, OWN, subject="coordinator-t13")
    assert (
        await ppo.get("/v1/tested-positive", params={"borough": OWN}, headers=coordinator)
    ).status_code == 200
    admin = token(Role.admin, "*")
    audit = await ok(ppo.get("/v1/audit", params={"action": "tested_positive.read"}, headers=admin))
    assert (
        next(e for e in audit["items"] if e["actor"] == "coordinator-t13")["detail"]["purpose"]
        == "supervision"
    )

    url = f"/v1/detentions/{world.ids['detention_id']}"
    officer = token(Role.custody_officer, OWN, subject="officer-t13")
    withheld = await ok(custody.get(url, headers=officer))
    assert withheld["results"] is None and "purpose" in withheld["results_withheld"]
    shown = await ok(custody.get(url, params={"purpose": "bail"}, headers=officer))
    assert shown["results"] == {"cocaine": "positive"}
    not_theirs = await custody.get(url, params={"purpose": "supervision"}, headers=officer)
    assert not_theirs.status_code == 403 and not_theirs.json()["rule_id"] == "T13"
    as_admin = await ok(custody.get(url, headers=admin))
    assert as_admin["results"] is None
    audit = await ok(custody.get("/v1/audit", params={"action": "detention.read"}, headers=admin))
    purposes = [e["detail"].get("purpose") for e in audit["items"] if e["actor"] == "officer-t13"]
    assert sorted(purposes, key=str) == [None, "bail"]  # None: the read without results

    assessment = f"/v1/assessments/{world.ids['assessment_id']}"
    assert (await ok(referral.get(assessment, headers=token(Role.court_liaison, OWN))))["drugs"] == [
        "cocaine"
    ]
    assert (await ok(referral.get(assessment, headers=admin)))["drugs"] is None

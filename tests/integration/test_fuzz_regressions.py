"""The inputs with which fuzzing the OpenAPI (test_fuzz_openapi.py) found bugs, pinned as explicit calls.

Each test is named after what it proves; each input is the one schemathesis reported (or its shrunk form).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.db.database import server_dsn
from dipflow.devstack.services import SERVICES
from dipflow.http.problems import PROBLEM_JSON
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from tests.infra import Infra
from tests.support.sample_app import serve

SECRET = "fuzz-regressions-secret-" + "x" * 30
ADMIN = {"Authorization": f"Bearer {mint_token(SECRET, subject='admin-f', role=Role.admin, area='*')}"}
WORKER = {
    "Authorization": "Bearer "
    + mint_token(SECRET, subject="worker-f", role=Role.referral_worker, area="metropolitan", worker_id="W-F")
}


def coordinator(area: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {mint_token(SECRET, subject='coord-f', role=Role.ppo_coordinator, area=area)}"
    }


Service = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def service(infra: Infra, unique: str) -> Service:
    """``async with service("ppo-register") as client``: that service in-process on the real servers."""

    @asynccontextmanager
    async def running(name: str) -> AsyncIterator[httpx.AsyncClient]:
        spec = next(s for s in SERVICES if s.name == name)
        await ensure_topics(infra.kafka_bootstrap, all_topics())
        settings_module = importlib.import_module(f"{spec.package}.settings")
        settings_class = next(
            v for k, v in vars(settings_module).items() if k.endswith("Settings") and k != "ServiceSettings"
        )
        settings = settings_class(
            service_name=f"fuzzreg-{name}-{unique}",
            kafka_bootstrap=infra.kafka_bootstrap,
            database_url=server_dsn(infra.postgres_dsn, f"fuzzreg_{name.replace('-', '_')}_{unique}"),
        )
        app = importlib.import_module(f"{spec.package}.main").create_app(
            settings, AuthSettings(dev_secret=SECRET)
        )
        async with serve(app) as client:
            yield client

    return running


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def failing_fields(answer: httpx.Response) -> set[str]:
    return {e["field"] for e in problem(answer, 422)["errors"]}


# ---- NUL characters: PostgreSQL text cannot hold U+0000 (was a 500 from asyncpg) ------------------------


async def test_a_nul_character_in_a_query_parameter_is_a_422_naming_it(service: Service) -> None:
    async with service("referral") as referral:
        answer = await referral.get(
            "/v1/assessments", params={"area": "~\U0010a9c54\x0f\xa0\x00"}, headers=ADMIN
        )
        assert failing_fields(answer) == {"query.area"}


async def test_a_nul_character_in_a_json_body_is_a_422_naming_the_field(service: Service) -> None:
    order = {
        "court": "e\xf5\U0010b9ac\x0cQA\xb5\x19\x00\xe0\xefn\x83\x87q\xc3\x13\uf0ffP\U0003c5c3\u384b",
        "treatment_months": 21.0,
        "start_date": "5002-06-30",
        "area": "uxazifrcq",
        "responsible_officer": "\xb0H\xe8",
        "order_id": "\xdc\U00016f27",
        "person_id": "3154/8065895O",
    }
    async with service("breach") as breach:
        answer = await breach.post("/v1/orders", json=order, headers=ADMIN)
        assert failing_fields(answer) == {"body.court"}
        # nothing was half-written: the same order without the NUL is accepted
        answer = await breach.post("/v1/orders", json={**order, "court": "eQA"}, headers=ADMIN)
        assert answer.status_code == 201, answer.text


async def test_a_nul_character_in_a_csv_upload_is_a_422(service: Service) -> None:
    csv = "person_id,borough,strand,start_date\n01/123456A,lam\x00beth,Catch & Convict,2024-01-02\n"
    async with service("ppo-register") as ppo:
        answer = await ppo.post(
            "/v1/register/import", content=csv.encode(), headers={**ADMIN, "content-type": "text/csv"}
        )
        assert failing_fields(answer) == {"body"}


# ---- ids and cursors beyond PostgreSQL's bigint (was a 500: the driver refused the argument) -------------


async def test_a_notification_id_beyond_bigint_is_a_422_not_a_500(service: Service) -> None:
    async with service("custody") as custody:
        answer = await custody.post(
            "/v1/notifications/115049979793656217600/end", json={"valid_to": "0687-09-06"}, headers=ADMIN
        )
        assert failing_fields(answer) == {"path.notification_id"}
        answer = await custody.post(
            f"/v1/notifications/{2**63 - 1}/end", json={"valid_to": "2024-01-01"}, headers=ADMIN
        )
        problem(answer, 404)


async def test_an_alert_feed_cursor_beyond_bigint_is_a_422_not_a_500(service: Service) -> None:
    async with service("custody") as custody:
        too_far = {"after": "15748873758979613419787796873216", "state": "open"}
        answer = await custody.get("/v1/alerts", params=too_far, headers=ADMIN)
        assert failing_fields(answer) == {"query.after"}
        last = await custody.get("/v1/alerts", params={"after": str(2**63 - 1)}, headers=ADMIN)
        assert last.status_code == 200 and last.json()["items"] == []


async def test_a_panel_flag_id_beyond_bigint_is_a_422_not_a_500(service: Service) -> None:
    async with service("ppo-register") as ppo:
        answer = await ppo.post(
            "/v1/panel-flags/11443346302759219200/review",
            json={"outcome": "added_to_register"},
            headers=coordinator("lambeth"),
        )
        assert failing_fields(answer) == {"path.flag_id"}


async def test_a_feed_cursor_beyond_bigint_is_a_422_not_a_500(service: Service) -> None:
    async with service("breach") as breach:
        params = {"after": "145719026061276884867481600", "limit": "2", "area": "lambeth"}
        answer = await breach.get("/v1/notifications", params=params, headers=ADMIN)
        assert failing_fields(answer) == {"query.after"}


# ---- the register service -------------------------------------------------------------------------------


async def test_the_csv_export_names_its_file_in_ascii_whatever_borough_was_asked(service: Service) -> None:
    """The borough went into Content-Disposition as given; a header is Latin-1 (was a 500)."""
    borough = "\U00080fbd\U000b1313\xb5\U000c7ee1Q\U000592a4\U00085fb8\U000c3628\xa0"
    async with service("ppo-register") as ppo:
        answer = await ppo.get(
            "/v1/tested-positive",
            params={"borough": borough, "format": "csv", "as_of": "0244-01-11"},
            headers=coordinator(borough),
        )
        assert answer.status_code == 200, answer.text
        assert (
            answer.headers["content-disposition"] == 'attachment; filename="tested-positive-q-0244-01-11.csv"'
        )


async def test_k1_refuses_year_zero_and_takes_the_last_month_there_is(service: Service) -> None:
    """``baseline=0000-01`` was a 500 (no year 0); ``9999-12`` was one too (its next month is in year 10000)."""
    async with service("ppo-register") as ppo:
        params = {"baseline": "0000-01", "borough": "", "from": "2000-01-01", "to": "2000-01-01"}
        answer = await ppo.get("/v1/measures/k1", params=params, headers=ADMIN)
        assert failing_fields(answer) == {"query.baseline"}
        answer = await ppo.get("/v1/measures/k1", params={**params, "baseline": "9999-12"}, headers=ADMIN)
        assert answer.status_code == 200, answer.text


async def test_an_upload_without_the_required_columns_is_a_422_even_for_the_good_rows(
    service: Service,
) -> None:
    """Schemathesis sent ``null`` as the CSV and asked for the good rows: it was a 200 that imported nothing."""
    async with service("ppo-register") as ppo:
        answer = await ppo.post(
            "/v1/register/import",
            params={"import_good_rows": "true"},
            content=b"null",
            headers={**ADMIN, "content-type": "text/csv"},
        )
        body = problem(answer, 422)
        assert body["type"].endswith("/unreadable-file")
        assert {e["field"] for e in body["errors"]} == {"person_id", "borough", "strand", "start_date"}


async def test_an_upload_the_csv_module_cannot_read_is_a_422_not_a_500(service: Service) -> None:
    """A bare carriage return inside an unquoted field made csv raise (was a 500)."""
    async with service("ppo-register") as ppo:
        answer = await ppo.post(
            "/v1/register/import",
            content='\U00078044\xdc"\r\U00103b9b\xd3h'.encode(),
            headers={**ADMIN, "content-type": "text/csv"},
        )
        body = problem(answer, 422)
        assert body["type"].endswith("/unreadable-file")
        assert [e["field"] for e in body["errors"]] == ["file"]


# ---- dates are ISO 8601 text, as documented (a number was read as a Unix time) --------------------------


async def test_a_number_is_not_a_date_or_a_time(service: Service) -> None:
    async with service("ppo-register") as ppo:
        answer = await ppo.get(
            "/v1/tested-positive",
            params={"as_of": "8.591250486914618e-194", "borough": "lambeth"},
            headers=coordinator("lambeth"),
        )
        assert failing_fields(answer) == {"query.as_of"}
        answer = await ppo.get(
            "/v1/audit", params={"until": "0.02", "since": "0352-08-25T17:00:45Z"}, headers=ADMIN
        )
        assert failing_fields(answer) == {"query.until"}
    async with service("referral") as referral:
        answer = await referral.get("/v1/inbox", params={"day": "0.0"}, headers=WORKER)
        assert failing_fields(answer) == {"query.day"}
        answer = await referral.get("/v1/inbox", params={"day": "2024-06-10"}, headers=WORKER)
        assert answer.status_code == 200, answer.text
    async with service("custody") as custody:
        answer = await custody.post("/v1/notifications/1/end", json={"valid_to": 0}, headers=ADMIN)
        assert failing_fields(answer) == {"body.valid_to"}
    async with service("ppo-register") as ppo:
        zeros = "0" * 61  # `Query(default)` dropped the check of an Annotated type: FastAPI reads it that way
        answer = await ppo.get("/v1/measures/k1", params={"from": zeros, "to": zeros}, headers=ADMIN)
        assert failing_fields(answer) == {"query.from", "query.to"}


async def test_a_boolean_is_not_a_weekday_number(service: Service) -> None:
    """``[true, false, ...]`` was read as ``[1, 0, ...]`` (lax coercion); the schema says integers 0 to 6."""
    worker = {
        "worker_id": "jM6c42pF4a",
        "name": "\xe2",
        "area": "xc",
        "suites": ["MET-BRIXTON"],
        "daily_capacity": 3,
        "working_weekdays": [True, False, True, False, True, True, True],
    }
    async with service("referral") as referral:
        answer = await referral.post("/v1/workers", json=worker, headers=ADMIN)
        assert failing_fields(answer) == {f"body.working_weekdays.{n}" for n in range(7)}
        answer = await referral.post("/v1/workers", json={**worker, "working_weekdays": [7]}, headers=ADMIN)
        assert failing_fields(answer) == {"body.working_weekdays.0"}
        answer = await referral.post(
            "/v1/workers", json={**worker, "working_weekdays": [0], "active": 1}, headers=ADMIN
        )
        assert failing_fields(answer) == {"body.active"}
        answer = await referral.post(
            "/v1/workers", json={**worker, "working_weekdays": [0, 6]}, headers=ADMIN
        )
        assert answer.status_code == 201, answer.text


async def test_ending_a_notification_before_it_starts_is_a_422_not_a_404(service: Service) -> None:
    """Stateful fuzzing created a notification, then ended it before its start: "no such notification"."""
    async with service("custody") as custody:
        suite = {"code": "MET-FUZZ", "name": "Fuzz suite", "force": "metropolitan", "borough": "lambeth"}
        assert (await custody.post("/v1/suites", json=suite, headers=ADMIN)).status_code == 201
        added = await custody.post(
            "/v1/notifications",
            json={"place": "MET-FUZZ", "kind": "testing_on_arrest", "valid_from": "2009-04-01"},
            headers=ADMIN,
        )
        assert added.status_code == 201, added.text
        end = f"/v1/notifications/{added.json()['id']}/end"
        answer = await custody.post(end, json={"valid_to": "0081-05-20"}, headers=ADMIN)
        assert failing_fields(answer) == {"body.valid_to"}
        answer = await custody.post(end, json={"valid_to": "2009-04-01"}, headers=ADMIN)
        assert answer.status_code == 204, answer.text

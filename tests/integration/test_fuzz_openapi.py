"""Schemathesis against each service's own OpenAPI, with the service running in-process (uvicorn on a free port)
on the real Kafka and PostgreSQL: every operation is called with generated valid and invalid input by a role
that may call it, then the services are walked statefully along the links schemathesis infers between them.

Checks, schemathesis' own and ours: no 5xx; every 4xx is ``application/problem+json`` with our problem fields;
status codes, content types, headers and bodies as documented; input the schema rejects is rejected (and
input it accepts is not, unless a business rule answers 422); a call that succeeded is refused when re-sent
without its token or with a forged one; a resource just created is found by the next call of a walk.

The short run inside ``make test`` generates a few cases per operation from a fixed seed, the same cases every
run. ``make fuzz`` sets ``DIPFLOW_FUZZ_EXAMPLES=1000`` for the long run and ``DIPFLOW_FUZZ_SEED=random``, so
each long run draws a new seed and explores new cases; it prints the seed first, and the case counts per
operation at the end (also written to ``.local/fuzz/<service>.json`` with the seed). A number in
``DIPFLOW_FUZZ_SEED`` fixes the seed of either run: ``DIPFLOW_FUZZ_SEED=<printed seed> make fuzz`` generates the
same cases again (the stateful walks also depend on the answers, so they may differ).

Each bug this found is pinned by an explicit test in ``test_fuzz_regressions.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib
import json
import os
import re
import secrets
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow.auth.principal import NATIONAL_ROLES
from dipflow.db.database import server_dsn
from dipflow.devstack import free_port
from dipflow.devstack.access import Rule, rules_of
from dipflow.devstack.paths import project_root
from dipflow.devstack.services import SERVICES, ServiceSpec
from dipflow.http.problems import PROBLEM_JSON
from dipflow.kafka.admin import ensure_topics
from dipflow.topics import all_topics
from tests.infra import Infra

AnyCase = Case[Any]
Operation = schemathesis.APIOperation[Any, Any, Any, Any]

LONG_RUN = bool(os.environ.get("DIPFLOW_FUZZ_EXAMPLES"))
# the short run in make test: 20 cases per operation (make fuzz: 1,000)
EXAMPLES = int(os.environ.get("DIPFLOW_FUZZ_EXAMPLES") or 20)
STATEFUL_EXAMPLES = max(EXAMPLES // 5, 8)  # scenarios of up to 10 linked calls
FIXED_SEED = 20240610  # the short run's


def _seed(given: str | None) -> int:
    """``DIPFLOW_FUZZ_SEED``: a number fixes the seed, ``random`` draws one; unset, the fixed seed."""
    if not given:
        return FIXED_SEED
    return secrets.randbelow(2**32) if given.strip().lower() == "random" else int(given)


SEED = _seed(os.environ.get("DIPFLOW_FUZZ_SEED"))
SECRET = "fuzz-secret-" + "x" * 40
REPORTS = project_root() / ".local" / "fuzz"
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
CONVERTER = re.compile(r":\w+}")
PROBLEM_FIELDS = {"type", "title", "status", "detail", "correlation_id"}

pytestmark = [
    pytest.mark.timeout(0 if LONG_RUN else 300),
    # Raised from inside schemathesis' own strategies, not ours.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

# A live event stream never ends; its access is checked by test_access_matrix.
NOT_FUZZED = {"GET /v1/inbox/stream"}


# ---- the services under test ------------------------------------------------------------------------------


def _settings_for(spec: ServiceSpec, infra: Infra, unique: str) -> Any:
    module = importlib.import_module(f"{spec.package}.settings")
    settings_class = next(
        v for k, v in vars(module).items() if k.endswith("Settings") and k != "ServiceSettings"
    )
    return settings_class(
        service_name=f"fuzz-{spec.name}-{unique}",
        kafka_bootstrap=infra.kafka_bootstrap,
        database_url=server_dsn(infra.postgres_dsn, f"fuzz_{spec.name.replace('-', '_')}_{unique}"),
        log_level="WARNING",
    )


@contextmanager
def _running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` on a free port from a thread with its own event loop; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"fuzz-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        assert thread.is_alive(), "the service did not start (see the captured log)"
        assert time.monotonic() < deadline, "the service did not start within 90 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


async def _no_webhooks(url: str, *args: Any, **kwargs: Any) -> str:
    """Generated webhook URLs name any host on earth: deliveries are recorded as failed, never sent."""
    return "not sent: fuzzing"


def _caller(rule: Rule | None) -> dict[str, str]:
    """The widest token of a role the route allows (national for admins and analysts, the force for the
    others): admin where it may, else the first allowed role."""
    roles = rule.roles if rule is not None else frozenset()
    role = Role.admin if not roles or Role.admin in roles else sorted(roles)[0]
    worker = "W-FUZZ" if role is Role.referral_worker else None
    area = "*" if role in NATIONAL_ROLES else "metropolitan"
    token = mint_token(SECRET, subject=f"fuzz-{role}", role=role, area=area, worker_id=worker)
    return {"Authorization": f"Bearer {token}"}


class Target:
    """One running service and the schemathesis view of its OpenAPI."""

    def __init__(self, spec: ServiceSpec, app: FastAPI, base_url: str) -> None:
        self.spec = spec
        self.base_url = base_url
        self.session = requests.Session()
        # Routes name path converters ({person_id:path}); the OpenAPI does not.
        rules = {r.method + " " + CONVERTER.sub("}", r.path): r for r in rules_of(spec.name, app)}
        config = schemathesis.Config.from_dict(
            {
                "seed": SEED,
                "base-url": base_url,
                "request-timeout": 30,
                # Every call carries a valid token (the auth provider below) instead of generated credentials:
                # the cases go to the input. Missing and bad tokens are test_access_matrix's, and the
                # ignored_auth check re-sends each success without its token and with a forged one.
                "generation": {"max-examples": EXAMPLES, "with-security-parameters": False},
                # A 422 for well-formed input that breaks a business rule (an unknown offence code, a release
                # before the arrest) is an answer, not a schema mismatch.
                "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
            }
        )
        # A copy: schemathesis writes the links it infers into the schema it is given.
        self.schema = schema = schemathesis.openapi.from_dict(copy.deepcopy(app.openapi()), config=config)

        @schema.auth(refresh_interval=None)
        class _Auth:
            def get(self, case: AnyCase, ctx: schemathesis.AuthContext) -> dict[str, str]:
                return _caller(rules.get(ctx.operation.label))

            def set(self, case: AnyCase, data: dict[str, str], ctx: schemathesis.AuthContext) -> None:
                case.headers.update(data)

        self.rules = rules
        self.statuses: dict[str, dict[str, Counter[int]]] = {"fuzz": {}, "stateful": {}}
        self.seconds: dict[str, float] = {}
        self.walks = 0

    def operations(self) -> list[Operation]:
        found = [r.ok() for r in self.schema.get_all_operations() if isinstance(r, Ok)]
        assert len(found) == sum(1 for _ in self.schema.get_all_operations()), "the OpenAPI has invalid parts"
        unknown = [
            op.label for op in found if op.definition.raw.get("security") and op.label not in self.rules
        ]
        assert not unknown, f"no access rule found for {unknown}: the tokens would be wrong"
        return [op for op in found if op.label not in NOT_FUZZED]

    def call(self, case: AnyCase, phase: str) -> schemathesis.Response:
        response = case.call(session=self.session)
        self.statuses[phase].setdefault(case.operation.label, Counter())[response.status_code] += 1
        return response

    def report(self, seconds: dict[str, float]) -> dict[str, Any]:
        REPORTS.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {"service": self.spec.name, "examples_per_operation": EXAMPLES, "seed": SEED}
        for phase, operations in self.statuses.items():
            body[phase] = {
                "seconds": round(seconds.get(phase, 0.0), 1),
                "cases": sum(sum(c.values()) for c in operations.values()),
                "operations": {
                    label: {"cases": sum(c.values()), "statuses": {str(k): v for k, v in sorted(c.items())}}
                    for label, c in sorted(operations.items())
                },
            }
        body["stateful"]["walks"] = self.walks
        (REPORTS / f"{self.spec.name}.json").write_text(json.dumps(body, indent=2) + "\n")
        return body


def _print(request: pytest.FixtureRequest, text: str) -> None:
    """Past pytest's capture, so it shows as the run goes."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + text, flush=True)


@pytest.fixture(scope="session", autouse=True)
def announce_seed(request: pytest.FixtureRequest) -> None:
    """The seed before any case runs, so a failing run can be replayed even if it never finishes."""
    examples = f"DIPFLOW_FUZZ_EXAMPLES={EXAMPLES} " if LONG_RUN else ""
    _print(request, f"fuzz seed {SEED} (replay: {examples}DIPFLOW_FUZZ_SEED={SEED})")


@pytest.fixture(scope="module", params=SERVICES, ids=[s.name for s in SERVICES])
def target(request: pytest.FixtureRequest, infra: Infra) -> Iterator[Target]:
    """One service for both tests of the module (pytest orders them by service)."""
    spec: ServiceSpec = request.param
    asyncio.run(ensure_topics(infra.kafka_bootstrap, all_topics()))
    app = importlib.import_module(f"{spec.package}.main").create_app(
        _settings_for(spec, infra, uuid.uuid4().hex[:10]), AuthSettings(dev_secret=SECRET)
    )
    with pytest.MonkeyPatch.context() as patch, _running(app) as base_url:
        for module in ("dipflow.webhooks",):
            patch.setattr(f"{module}.post_signed", _no_webhooks)
        service = Target(spec, app, base_url)
        yield service
    body = service.report(service.seconds)
    if LONG_RUN:
        lines = []
        for phase in service.statuses:
            walks = f" in {service.walks} walks" if phase == "stateful" else ""
            lines.append(
                f"{spec.name} {phase}: {body[phase]['cases']} calls{walks}, {body[phase]['seconds']} s (seed {SEED})"
            )
            lines += [
                f"  {o['cases']:6d}  {label}  {o['statuses']}"
                for label, o in body[phase]["operations"].items()
            ]
        _print(request, "\n".join(lines))


def problem_details(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: AnyCase
) -> bool | None:
    """Every 4xx is RFC 9457 problem+json with our fields (shared/src/dipflow/http/problems.py)."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM_JSON), f"a {response.status_code} answered as {content_type!r}"
    body = json.loads(response.content)
    missing = PROBLEM_FIELDS - set(body)
    assert not missing, f"the problem lacks {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, f"status {body['status']} in a {response.status_code}"
    return True


# ---- the tests --------------------------------------------------------------------------------------------


def _fuzz(target: Target, operation: Operation) -> None:
    """``EXAMPLES`` generated cases, valid and invalid, from a seed of its own (so runs are reproducible)."""
    label = operation.label
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @seed(SEED ^ zlib.crc32(f"{target.spec.name} {label}".encode()))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=cases)
    def fuzz(case: AnyCase) -> None:
        response = target.call(case, "fuzz")
        case.validate_response(response, additional_checks=[problem_details])

    fuzz()


def test_every_operation_answers_as_documented(target: Target, subtests: pytest.Subtests) -> None:
    started = time.monotonic()
    try:
        for operation in target.operations():
            with subtests.test(msg=f"{target.spec.name} {operation.label}"):
                _fuzz(target, operation)
    finally:
        target.seconds["fuzz"] = time.monotonic() - started


def test_workflows_along_inferred_links(target: Target) -> None:
    """Stateful: walks of up to 10 calls along the links schemathesis infers from the OpenAPI (ours declares
    none), each call fed by an earlier answer: book a person in, then act on that detention, and so on."""
    started = time.monotonic()
    machine = target.schema.as_state_machine()
    failures: list[Exception] = []

    class Walk(machine):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            target.walks += 1
            super().setup()

        def call(self, case: AnyCase, **kwargs: Any) -> schemathesis.Response:
            return target.call(case, "stateful")

        def validate_response(self, response: schemathesis.Response, case: AnyCase, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, additional_checks=[problem_details], **kwargs)
            except Exception as exc:
                failures.append(exc)
                raise

    try:
        # Which rules a walk may take depends on what the server answered earlier, and the server's state
        # moves on: Hypothesis then stops a round as "flaky". As schemathesis' own runner does, that ends the
        # round, not the test; the next round starts from the next seed.
        for round_ in range(STATEFUL_EXAMPLES):
            if target.walks >= STATEFUL_EXAMPLES:
                break
            try:
                seed(SEED + round_)(Walk).run(
                    settings=settings(
                        max_examples=STATEFUL_EXAMPLES - target.walks,
                        deadline=None,
                        database=None,
                        suppress_health_check=list(HealthCheck),
                        stateful_step_count=10,
                        phases=[Phase.generate],  # no shrinking, as schemathesis: the server has moved on
                    )
                )
                break
            except Flaky:
                if failures:  # a replay of a failing walk that did not fail again: report the failure
                    raise failures[0] from None
    finally:
        target.seconds["stateful"] = time.monotonic() - started

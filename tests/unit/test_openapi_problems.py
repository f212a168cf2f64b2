"""Every service's OpenAPI documents the errors it answers, as problem+json (fuzzing found FastAPI's own 422
documented as application/json, and 400/401/403/404/409 not documented at all)."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from dipflow.devstack.services import SERVICES
from dipflow.http import correlation, idempotency
from dipflow.http.openapi import REQUEST_HEADERS, RESPONSE_HEADERS
from dipflow.http.problems import PROBLEM_JSON

PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}


def openapi(package: str) -> dict[str, Any]:
    schema: dict[str, Any] = importlib.import_module(f"{package}.main").create_app().openapi()
    return schema


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_every_protected_route_documents_its_problems(spec: Any) -> None:
    schema = openapi(spec.package)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "correlation_id",
    }
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = {code for code in responses if code.startswith("4")}
            for code in errors:
                assert responses[code]["content"] == {PROBLEM_JSON: PROBLEM}, f"{method} {path} {code}"
            if not operation.get("security"):  # open: no token to refuse, only a query it may find malformed
                queried = any(p.get("in") == "query" for p in operation.get("parameters", []))
                assert errors == ({"422"} if queried else set()), f"{method} {path} is open: {sorted(errors)}"
                continue
            wanted = {"401", "403", "404", "422"} | ({"400", "409"} if method != "get" else set())
            assert wanted <= errors, f"{method.upper()} {path} documents {sorted(errors)}"


def test_operations_routes_document_what_they_answer() -> None:
    paths = openapi(SERVICES[0].package)["paths"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert {"name": "name[]", "in": "query"}.items() <= paths["/metrics"]["get"]["parameters"][0].items()
    ready = paths["/readyz"]["get"]["responses"]
    assert ready["200"]["content"] == ready["503"]["content"]
    assert ready["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_every_route_documents_the_headers_it_takes_and_answers(spec: Any) -> None:
    """X-Correlation-ID in and out of every route; Idempotency-Key in and Idempotent-Replayed out of every
    POST (README: "Idempotency-Key on any POST")."""
    schema = openapi(spec.package)
    parameters = schema["components"]["parameters"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            refs = [
                p["$ref"].removeprefix("#/components/parameters/")
                for p in operation["parameters"]
                if "$ref" in p
            ]
            headers = {parameters[ref]["name"] for ref in refs if parameters[ref]["in"] == "header"}
            wanted = {"X-Correlation-ID", "Idempotency-Key"} if method == "post" else {"X-Correlation-ID"}
            assert headers == wanted, f"{method.upper()} {path} takes {sorted(headers)}"
            for code, response in operation["responses"].items():
                answered = set(response["headers"])
                wanted = (
                    {"X-Correlation-ID", "Idempotent-Replayed"} if method == "post" else {"X-Correlation-ID"}
                )
                assert answered == wanted, f"{method.upper()} {path} {code} answers {sorted(answered)}"
    assert set(schema["components"]["headers"]) == {"CorrelationId", "IdempotentReplayed"}


def test_the_documented_header_formats_are_the_enforced_ones() -> None:
    documented = re.compile(REQUEST_HEADERS["IdempotencyKey"]["schema"]["pattern"])
    for key in ("k", "order-1:2/3", "~!", "x" * 200, "x" * 201, "", "a b", "caf\u00e9", "tab\there"):
        assert bool(documented.fullmatch(key)) == bool(idempotency._VALID_KEY.fullmatch(key)), repr(key)
    assert RESPONSE_HEADERS["CorrelationId"]["schema"]["pattern"] == correlation._SAFE.pattern

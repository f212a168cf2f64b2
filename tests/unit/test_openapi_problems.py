"""Every service's OpenAPI documents the errors it answers, as problem+json (fuzzing found FastAPI's own 422
documented as application/json, and 400/401/403/404/409 not documented at all)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from dipflow.devstack.services import SERVICES
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
            if not operation.get("security"):
                assert errors == set(), f"{method} {path} is open and answers no 4xx"
                continue
            wanted = {"401", "403", "404", "422"} | ({"400", "409"} if method != "get" else set())
            assert wanted <= errors, f"{method.upper()} {path} documents {sorted(errors)}"


def test_operations_routes_document_what_they_answer() -> None:
    paths = openapi(SERVICES[0].package)["paths"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    ready = paths["/readyz"]["get"]["responses"]
    assert ready["200"]["content"] == ready["503"]["content"]
    assert ready["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}

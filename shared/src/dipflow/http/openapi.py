"""What every route's OpenAPI says about its errors: each 4xx it can answer, as ``application/problem+json``.

FastAPI documents only its own 422, as ``application/json`` with a body we never send. Every route behind
``requires(...)`` can answer 401 (no or bad token), 403 (role or area), 404 and 422 (problem details with the
failing fields); routes that take a body can also answer 400 (a body that does not parse, a bad
``Idempotency-Key``) and 409 (a conflicting change, an idempotent repeat still running). Statuses a route
declares itself (``responses={413: ...}``) are documented as problems too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dipflow.http.problems import PROBLEM_JSON, TITLES

SCHEMA_NAME = "Problem"
PROBLEM_REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": SCHEMA_NAME,
    "description": "RFC 9457 problem details; extension members vary by type (e.g. `allowed_roles`).",
    "type": "object",
    "required": ["type", "title", "status", "detail", "correlation_id"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "correlation_id": {"type": "string", "description": "Quote it when reporting the problem"},
        "errors": {
            "type": "array",
            "description": "For invalid input: each failing field and why",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                    "code": {"type": ["string", "null"]},
                },
            },
        },
    },
    "additionalProperties": True,
}
_PROTECTED = (401, 403, 404, 422)
_WITH_BODY = (400, 409)
_BODY_METHODS = {"post", "put", "patch", "delete"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or TITLES.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` (FastAPI's OpenAPI) in place so every error is documented as a problem."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            statuses: set[int] = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            if operation.get("security"):
                statuses.update(_PROTECTED)
                if method in _BODY_METHODS:
                    statuses.update(_WITH_BODY)
            for status in sorted(statuses):
                if status >= 500:
                    continue  # 5xx answers (readiness) document their own bodies
                declared = responses.get(str(status), {})
                description = None if status == 422 else declared.get("description")
                responses[str(status)] = _problem(status, description)
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[SCHEMA_NAME] = PROBLEM_SCHEMA
    text = repr(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}'" not in text:
            components.pop(name, None)
    return schema


def install_problem_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every route's errors as problems (computed once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

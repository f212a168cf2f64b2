"""What every route's OpenAPI says about its errors: each 4xx it can answer, as ``application/problem+json``.

FastAPI documents only its own 422, as ``application/json`` with a body we never send. Every route behind
``requires(...)`` can answer 401 (no or bad token), 403 (role or area), 404 and 422 (problem details with the
failing fields), and every route that takes a query, open ones too, 422 (a NUL in it, :mod:`dipflow.http.nul`);
routes that take a body can also answer 400 (a body that does not parse, a bad ``Idempotency-Key``) and 409 (a
conflicting change, an idempotent repeat still running). Statuses a route declares itself
(``responses={413: ...}``) are documented as problems too.

The headers every route shares are documented here too, once for all (:func:`document_headers`):
``X-Correlation-ID`` in and out of every route, and on POST ``Idempotency-Key`` in and ``Idempotent-Replayed``
out (:mod:`dipflow.http.correlation`, :mod:`dipflow.http.idempotency`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from dipflow.http.idempotency import MAX_KEY_LENGTH
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
OVERLOADED = (
    "The service is at capacity (dipflow.http.shedding): nothing of the request was done; send it again after "
    "the `Retry-After` seconds."
)
_WITH_BODY = (400, 409)
_BODY_METHODS = {"post", "put", "patch", "delete"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

# Components named here, referred to from every operation.
REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "CorrelationId": {
        "name": "X-Correlation-ID",
        "in": "header",
        "required": False,
        "description": (
            "The id to log this request under and to echo back in `X-Correlation-ID` and in problems'"
            " `correlation_id`. A value of 1 to 100 characters from `A-Z a-z 0-9 . _ : -` is kept; without"
            " one (or with any other value) the service mints a UUID."
        ),
        "schema": {"type": "string"},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            f"1 to {MAX_KEY_LENGTH} printable ASCII characters (no spaces); anything else is a 400. The same key"
            " and the same request (path, query and body) from the same caller in the same role and area"
            " (and worker id) replays the stored answer, with `Idempotent-Replayed: true`, once the route's own"
            " checks have let the request through: the effect happens once. The same key with another request"
            " is a 422; a repeat while the first is still running is a 409 with `Retry-After`. From another"
            " caller, role or area the key starts a fresh request. An answer that was a 5xx is not stored, so"
            " the request can be retried with the same key."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_LENGTH,
            "pattern": f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",
        },
    },
}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "CorrelationId": {
        "description": "The request's correlation id: the one sent, if usable, or one minted (a UUID)",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"},
    },
    "IdempotentReplayed": {
        "description": "Present (and `true`) only when this is the stored answer to an earlier request"
        " with the same `Idempotency-Key`",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
}


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
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                statuses.add(422)  # a query holding NUL (dipflow.http.nul), on open routes too
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
            if operation.get("security"):
                responses["503"] = _problem(503, OVERLOADED)
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[SCHEMA_NAME] = PROBLEM_SCHEMA
    text = repr(schema.get("paths", {}))
    for name in _FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}'" not in text:
            components.pop(name, None)
    return schema


def _parameter(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def document_headers(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` in place: every operation takes ``X-Correlation-ID`` and answers with it; every POST
    also takes ``Idempotency-Key`` and may answer ``Idempotent-Replayed``."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            post = method == "post"
            parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
            for name in ("CorrelationId", "IdempotencyKey") if post else ("CorrelationId",):
                given = {(p.get("in"), str(p.get("name", "")).lower()) for p in parameters}
                if ("header", REQUEST_HEADERS[name]["name"].lower()) not in given:
                    parameters.append(_parameter(name))
            for response in operation["responses"].values():
                headers = response.setdefault("headers", {})
                headers.setdefault("X-Correlation-ID", _header("CorrelationId"))
                if post:
                    headers.setdefault("Idempotent-Replayed", _header("IdempotentReplayed"))
    components = schema.setdefault("components", {})
    components.setdefault("parameters", {}).update(REQUEST_HEADERS)
    components.setdefault("headers", {}).update(RESPONSE_HEADERS)
    return schema


def install_problem_docs(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every route's errors as problems and the headers every route shares
    (computed once, then cached)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_headers(document_problems(generate()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

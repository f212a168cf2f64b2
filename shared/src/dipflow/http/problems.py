"""RFC 9457 problem details for every error a service returns.

Validation errors list each field and the reason; unexpected errors give only a correlation id (no stack
trace, no personal data) and are logged with the same id.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from dipflow.db.database import CONFLICT_UNDONE
from dipflow.errors import ConcurrentChange, Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from dipflow.http.context import current_correlation_id

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://dipflow.example/problems/"


TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem+json body; takes the arguments of :func:`problem_response`."""

    def __init__(self, status: int, detail: str, **options: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.options = options

    def response(self) -> JSONResponse:
        return problem_response(self.status, self.detail, **self.options)


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """``kind`` becomes the problem type URI; it and ``title`` default from the status."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or TITLES.get(status, "error").lower().replace(" ", "-")),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "correlation_id": current_correlation_id(),
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        return f"{where}.{'.'.join(rest)}" if rest else where
    return ".".join(parts)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(err.get("loc", ())), "reason": err.get("msg", "invalid"), "code": err.get("type")}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        f"{len(errors)} field(s) failed validation",
        kind="validation-error",
        errors=errors,
    )


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.response()


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


async def _rule(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RuleViolation)
    return problem_response(409, exc.reason, kind="rule-violation", rule_id=exc.rule_id)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return problem_response(404, f"no such {exc.what}")


async def _concurrent(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(409, "the record changed at the same time; retry", kind="concurrent-change")


async def _undone(_: Request, exc: Exception) -> JSONResponse:
    """The database undid the request's transaction to end a conflict with another (a deadlock, or a
    serialization failure): nothing of it was done, and the same request sent again can succeed."""
    return problem_response(
        503,
        "the database undid this request to settle a conflict with another; nothing of it was done: "
        "send it again after Retry-After",
        kind="database-conflict",
        headers={"Retry-After": "1"},
    )


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return problem_response(409, exc.detail, kind=exc.kind)


async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Forbidden)
    if exc.rule_id:
        return problem_response(403, exc.detail, kind=exc.kind, rule_id=exc.rule_id)
    return problem_response(403, exc.detail, kind=exc.kind)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    extensions: dict[str, Any] = dict(exc.extensions)
    return problem_response(
        422, exc.detail, kind=exc.kind, errors=[{"field": exc.field, "reason": exc.reason}], **extensions
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at the request's path (a resource may be served by several routes)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route.methods)
    return sorted(methods)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """A 405 whose ``Allow`` names every method of the resource, not only those of the first route Starlette
    matched the path with."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if methods := allowed_methods(request):
        headers["Allow"] = ", ".join(methods)
    return await _http(request, StarletteHTTPException(405, exc.detail, headers))


def install_problem_handlers(app: FastAPI) -> None:
    """One mapping of every refusal to problem+json, for every route of a service."""
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RuleViolation, _rule)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(ConcurrentChange, _concurrent)
    for undone in CONFLICT_UNDONE:
        app.add_exception_handler(undone, _undone)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(InvalidInput, _invalid)

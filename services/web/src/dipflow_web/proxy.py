"""Same-origin proxy ``/api/{service}/v1/...`` to the four services, with the session's bearer token.

Only the services' ``/v1/`` APIs are reachable (not /metrics, /docs or anything else), with GET, POST and PUT.
A write must carry ``X-Dipflow-Web: 1`` and come from this site (SameSite=Strict already keeps the cookie off
cross-site requests; the header makes a forged form post fail even where SameSite is not honoured). The
live inbox (``text/event-stream``) is streamed through as it arrives."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from dipflow.http.context import current_correlation_id
from dipflow.logging import get_logger
from dipflow_web.session import COOKIE, bearer
from dipflow_web.settings import SERVICE_NAMES

log = get_logger("dipflow.web.proxy")
router = APIRouter()

METHODS = ("GET", "POST", "PUT")
WRITE_HEADER = "x-dipflow-web"
MAX_BODY = 1_000_000
MAX_QUERY = 4096
_RAW_PATH = re.compile(r"^v1(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")
# What the browser may send on, and what comes back: nothing else (no cookies upstream, no hop-by-hop). The
# request's correlation id (the browser's X-Correlation-ID, or one minted here) goes on to the service, and the
# web app's own middleware echoes it back.
REQUEST_HEADERS = ("accept", "content-type", "idempotency-key")
RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "cache-control",
    "idempotent-replayed",
    "retry-after",
    "location",
)


class Refused(Exception):
    """The proxy will not pass this request on."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def target_path(service: str, raw_path: str) -> str:
    """The upstream path for ``/api/{service}/{rest}`` as the browser sent it (still percent-encoded), or
    Refused. ``raw_path`` is the whole request path."""
    if service not in SERVICE_NAMES:
        raise Refused(404, "Not Found", f"no service called {service!r}")
    prefix = f"/api/{service}/"
    if not raw_path.startswith(prefix):
        raise Refused(404, "Not Found", "the service name must be written plainly")
    rest = raw_path[len(prefix) :]
    if not _RAW_PATH.match(rest):
        raise Refused(404, "Not Found", "only the services' /v1/ APIs are reachable here")
    decoded = unquote(rest)
    if any(seg in ("", ".", "..") for seg in decoded.split("/")) or any(
        ord(c) < 0x20 or c in "\\\x7f" for c in decoded
    ):
        raise Refused(404, "Not Found", "that path is not allowed")
    return "/" + rest


def check_write(method: str, headers: Mapping[str, str], own_origin: str) -> None:
    """A write must come from this site's own pages."""
    if method == "GET":
        return
    if headers.get(WRITE_HEADER) != "1":
        raise Refused(403, "Forbidden", f"writes through the web app need the {WRITE_HEADER} header")
    origin = headers.get("origin")
    if origin is not None and origin != own_origin:
        raise Refused(403, "Forbidden", "this request came from another site")
    if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise Refused(403, "Forbidden", "this request came from another site")


def request_headers(incoming: Mapping[str, str], token: str | None, correlation_id: str) -> dict[str, str]:
    sent = {name: incoming[name] for name in REQUEST_HEADERS if name in incoming}
    return {**sent, "x-correlation-id": correlation_id, **bearer(token)}


def response_headers(upstream: httpx.Headers) -> dict[str, str]:
    return {name: upstream[name] for name in RESPONSE_HEADERS if name in upstream}


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


@router.api_route("/api/{service}/{path:path}", methods=list(METHODS), include_in_schema=False)
async def proxy(service: str, path: str, request: Request) -> Response:
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    query = request.url.query
    try:
        upstream_path = target_path(service, raw_path)
        check_write(request.method, request.headers, _own_origin(request))
        if len(query) > MAX_QUERY:
            raise Refused(414, "URI Too Long", "the query is too long")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            raise Refused(413, "Content Too Large", "the body is too large")
        body = await request.body() if request.method != "GET" else b""
        if len(body) > MAX_BODY:
            raise Refused(413, "Content Too Large", "the body is too large")
    except Refused as refused:
        return problem(refused.status, refused.title, refused.detail)
    client: httpx.AsyncClient = request.app.state.upstream
    base = request.app.state.settings.service_urls()[service]
    url = f"{base}{upstream_path}" + (f"?{query}" if query else "")
    limit = request.app.state.settings.upstream_timeout_s
    # An EventSource asks for text/event-stream: no read timeout for it (the service sends a heartbeat).
    live = "text/event-stream" in request.headers.get("accept", "")
    outgoing = client.build_request(
        request.method,
        url,
        headers=request_headers(request.headers, request.cookies.get(COOKIE), current_correlation_id()),
        content=body or None,
        timeout=httpx.Timeout(limit, read=None) if live else httpx.Timeout(limit),
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.HTTPError as exc:
        log.warning("upstream_unreachable", service=service, error_type=type(exc).__name__)
        return problem(502, "Bad Gateway", f"the {service} service did not answer; try again shortly")
    headers = response_headers(answer.headers)
    if answer.headers.get("content-type", "").startswith("text/event-stream"):
        return await _stream(answer, headers)
    try:
        content = await answer.aread()
    finally:
        await answer.aclose()
    return Response(content, status_code=answer.status_code, headers=headers)


async def _stream(answer: httpx.Response, headers: dict[str, str]) -> Response:
    """Server-sent events as they arrive. The first chunk (the service's ``: connected``, written once it
    has subscribed) is awaited before the browser gets the headers, so an EventSource that has opened
    misses no event."""
    chunks = answer.aiter_raw()
    try:
        first = await anext(chunks)
    except (StopAsyncIteration, httpx.HTTPError):
        await answer.aclose()
        return problem(502, "Bad Gateway", "the live stream closed at once")

    async def relay() -> AsyncIterator[bytes]:
        yield first
        try:
            async for chunk in chunks:
                yield chunk
        except httpx.HTTPError:
            return  # the service went away: the browser's EventSource reconnects

    return _Relay(
        answer,
        relay(),
        status_code=answer.status_code,
        headers={**headers, "cache-control": "no-store", "x-accel-buffering": "no"},
    )


class _Relay(StreamingResponse):
    """A streamed answer that closes the upstream stream however it ends (a browser that goes away is only
    noticed at the next write, which raises)."""

    def __init__(self, upstream: httpx.Response, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.upstream.aclose()

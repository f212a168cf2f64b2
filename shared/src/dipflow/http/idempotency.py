"""``Idempotency-Key`` on POST: the same key and body from the same caller, in the same role and area, gets the
stored answer, and only once the route's own authorisation has let the request through.

The middleware reads the body and fingerprints the request; the route's ``requires(...)`` dependency, after it
has checked the token, the role and the area, calls :func:`claim_or_replay`. The first request claims the key for
its caller's context (subject, role, area, worker id) as a row ``in_progress``, runs, and the middleware stores
its answer unless it failed with a 5xx (then the claim is dropped so the client can retry). A repeat in the same
context with the same request replays the stored answer with ``Idempotent-Replayed: true``; the same key with
another request is a 422; a repeat while the first is still running is a 409 with ``Retry-After``. The same key
from another context is a fresh request, authorised afresh. A claim left ``in_progress`` for longer than
``stale_after_s`` (the process died mid-request) may be taken over.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dipflow.http.problems import Problem, problem_response

if TYPE_CHECKING:  # dipflow.auth imports this module: importing it from here first would be circular
    from dipflow.auth.principal import Principal

HEADER = b"idempotency-key"
STALE_AFTER_S = 300
MAX_KEY_LENGTH = 200
_VALID_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$")


@dataclass
class IdempotentRequest:
    """A POST carrying a key: what identifies the request, and the context that claimed the key, if any."""

    key: str
    path: str
    digest: str
    claimed_by: str | None = None


class IdempotentReplay(Exception):
    """The stored answer to send instead of running the route."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.content_type = content_type
        self.body = body


def context_of(principal: Principal) -> str:
    """Whose answer a stored answer is: the subject in one role and area (and worker id)."""
    return "\x1f".join((principal.subject, str(principal.role), principal.area, principal.worker_id or ""))


async def claim_or_replay(request: Request, principal: Principal) -> None:
    """Called once the route has authorised ``principal``: claim the request's key, or raise the stored answer
    (IdempotentReplay) or the problem (422 key reused, 409 in progress)."""
    idem: IdempotentRequest | None = getattr(request.state, "idempotency", None)
    if idem is None or idem.claimed_by is not None:
        return
    pool: asyncpg.Pool = request.app.state.resources.pool
    actor = context_of(principal)
    claimed = await pool.fetchval(
        """
        INSERT INTO idempotency_keys (actor, key, method, path, request_hash, state)
        VALUES ($1, $2, 'POST', $3, $4, 'in_progress')
        ON CONFLICT (actor, key) DO UPDATE SET created_at = now()
            WHERE idempotency_keys.state = 'in_progress'
              AND idempotency_keys.request_hash = EXCLUDED.request_hash
              AND idempotency_keys.created_at < now() - make_interval(secs => $5)
        RETURNING true
        """,
        actor,
        idem.key,
        idem.path,
        idem.digest,
        float(STALE_AFTER_S),
    )
    if claimed:
        idem.claimed_by = actor
        return
    row = await pool.fetchrow(
        "SELECT request_hash, state, status, content_type, body FROM idempotency_keys WHERE actor = $1 AND key = $2",
        actor,
        idem.key,
    )
    if row is None:  # claim dropped after a 5xx between our insert and this read: ask to retry
        raise Problem(409, "retry: the first request with this key failed", kind="idempotency-retry")
    if row["request_hash"] != idem.digest:
        raise Problem(
            422,
            "this Idempotency-Key was already used with a different request",
            kind="idempotency-key-reused",
            errors=[{"field": "header.Idempotency-Key", "reason": "already used with another body"}],
        )
    if row["state"] == "in_progress":
        raise Problem(
            409,
            "a request with this Idempotency-Key is still being processed",
            kind="idempotency-in-progress",
            headers={"Retry-After": "1"},
        )
    raise IdempotentReplay(row["status"], row["content_type"], bytes(row["body"]))


async def _replayed(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return Response(
        exc.body, status_code=exc.status, media_type=exc.content_type, headers={"Idempotent-Replayed": "true"}
    )


def install_idempotency(app: FastAPI) -> None:
    app.add_middleware(IdempotencyMiddleware)
    app.add_exception_handler(IdempotentReplay, _replayed)


class IdempotencyMiddleware:
    """Fingerprints a POST with a key for :func:`claim_or_replay`, and stores the answer of a request that
    claimed its key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = next((v for k, v in scope["headers"] if k == HEADER), None)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not _VALID_KEY.match(key):
            await problem_response(
                400,
                "Idempotency-Key must be 1 to 200 printable characters",
                kind="bad-idempotency-key",
                errors=[{"field": "header.Idempotency-Key", "reason": "1 to 200 printable ASCII characters"}],
            )(scope, receive, send)
            return
        body = await _read_body(receive)
        path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        digest = hashlib.sha256(b"POST " + path.encode() + b"\n" + body).hexdigest()
        idem = IdempotentRequest(key, path, digest)
        scope.setdefault("state", {})["idempotency"] = idem

        status = 500
        content_type = b"application/json"
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, _replay(body, receive), capture)
        finally:
            if idem.claimed_by is not None:
                await _settle(scope, idem, status, content_type, b"".join(chunks))


async def _settle(
    scope: Scope, idem: IdempotentRequest, status: int, content_type: bytes, body: bytes
) -> None:
    pool: asyncpg.Pool = scope["app"].state.resources.pool
    if status < 500:
        await pool.execute(
            """
            UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5, completed_at = now()
            WHERE actor = $1 AND key = $2
            """,
            idem.claimed_by,
            idem.key,
            status,
            content_type.decode("latin-1"),
            body,
        )
    else:
        await pool.execute(
            "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2 AND state = 'in_progress'",
            idem.claimed_by,
            idem.key,
        )


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again

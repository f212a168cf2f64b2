"""``Idempotency-Key`` on POST: the same key and body from the same caller gets the stored answer.

The first request claims the key (a row ``in_progress``), runs, and stores its answer unless it failed with
a 5xx (then the claim is dropped so the client can retry). A repeat with the same request replays the
stored answer with ``Idempotent-Replayed: true``; the same key with another request is a 422; a repeat
while the first is still running is a 409 with ``Retry-After``. A claim left ``in_progress`` for longer
than ``stale_after_s`` (the process died mid-request) may be taken over.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dipflow.auth.tokens import InvalidToken, TokenVerifier
from dipflow.http.problems import problem_response

HEADER = b"idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, stale_after_s: int = 300) -> None:
        self.app = app
        self.stale_after_s = stale_after_s

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
        actor = _actor(scope)
        if actor is None:  # unauthenticated: let the route answer 401
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        digest = hashlib.sha256(scope["method"].encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        pool: asyncpg.Pool = scope["app"].state.resources.pool

        claimed = await pool.fetchval(
            """
            INSERT INTO idempotency_keys (actor, key, method, path, request_hash, state)
            VALUES ($1, $2, $3, $4, $5, 'in_progress')
            ON CONFLICT (actor, key) DO UPDATE SET created_at = now()
                WHERE idempotency_keys.state = 'in_progress'
                  AND idempotency_keys.request_hash = EXCLUDED.request_hash
                  AND idempotency_keys.created_at < now() - make_interval(secs => $6)
            RETURNING true
            """,
            actor,
            key,
            scope["method"],
            path,
            digest,
            float(self.stale_after_s),
        )
        if not claimed:
            await self._answer_repeat(pool, actor, key, digest, scope, receive, send)
            return

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
            if status < 500:
                await pool.execute(
                    """
                    UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5,
                           completed_at = now()
                    WHERE actor = $1 AND key = $2
                    """,
                    actor,
                    key,
                    status,
                    content_type.decode("latin-1"),
                    b"".join(chunks),
                )
            else:
                await pool.execute(
                    "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2 AND state = 'in_progress'",
                    actor,
                    key,
                )

    async def _answer_repeat(
        self,
        pool: asyncpg.Pool,
        actor: str,
        key: str,
        digest: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        row = await pool.fetchrow(
            "SELECT request_hash, state, status, content_type, body FROM idempotency_keys "
            "WHERE actor = $1 AND key = $2",
            actor,
            key,
        )
        if row is None:  # claim dropped after a 5xx between our insert and this read: ask to retry
            response: Any = problem_response(
                409, "retry: the first request with this key failed", kind="idempotency-retry"
            )
        elif row["request_hash"] != digest:
            response = problem_response(
                422,
                "this Idempotency-Key was already used with a different request",
                kind="idempotency-key-reused",
                errors=[{"field": "header.Idempotency-Key", "reason": "already used with another body"}],
            )
        elif row["state"] == "in_progress":
            response = problem_response(
                409,
                "a request with this Idempotency-Key is still being processed",
                kind="idempotency-in-progress",
                headers={"Retry-After": "1"},
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": row["status"],
                    "headers": [
                        (b"content-type", row["content_type"].encode("latin-1")),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": bytes(row["body"])})
            return
        await response(scope, receive, send)


def _actor(scope: Scope) -> str | None:
    verifier: TokenVerifier | None = getattr(scope["app"].state, "token_verifier", None)
    authorization = Request(scope).headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if verifier is None or scheme.lower() != "bearer" or not token:
        return None
    try:
        return verifier.verify(token.strip()).subject
    except InvalidToken:
        return None


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


def _replay(body: bytes, original: Receive) -> Receive:
    """Hand the body we already read to the app, then pass through to the real channel."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive

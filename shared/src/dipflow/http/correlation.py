"""Correlation ids: taken from ``X-Correlation-ID`` (or minted), bound to every log line, echoed back."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.types import Message, Receive, Scope, Send

from dipflow.http.context import reset_correlation_id, set_correlation_id
from dipflow.http.middleware import HttpMiddleware
from dipflow.http.problems import problem_response
from dipflow.logging import get_logger

log = get_logger("dipflow.http")

HEADER = "x-correlation-id"
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class CorrelationMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER.encode()), "")
        correlation_id = given if _SAFE.match(given) else str(uuid.uuid4())
        token = set_correlation_id(correlation_id)
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (HEADER.encode(), correlation_id.encode()),
                ]
            await send(message)

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_header(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Answer here, inside the correlation scope, so the 500 carries the same id as the log line.
            log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
            if started:
                raise
            response = problem_response(
                500,
                "The service failed to handle this request. Quote the correlation id when reporting it.",
                kind="internal-error",
            )
            await response(scope, receive, send_with_header)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
            reset_correlation_id(token)

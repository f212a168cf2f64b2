"""U+0000 in any input is a 422 problem, before a route sees it.

PostgreSQL text cannot hold the NUL character: a string carrying one, in the path, the query or the body,
would otherwise fail deep in a query as a 500 (found by fuzzing the OpenAPI). The answer names each field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import Receive, Scope, Send

from dipflow.http.idempotency import _read_body, _replay
from dipflow.http.middleware import HttpMiddleware
from dipflow.http.problems import problem_response

NUL = "\x00"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _in_json(value: Any, where: str) -> Iterator[str]:
    if isinstance(value, str):
        if NUL in value:
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield where
            else:
                yield from _in_json(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _in_json(item, f"{where}.{index}")


def _in_body(body: bytes, content_type: str) -> list[str]:
    if "json" in content_type:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return []  # the route answers for a body that does not parse
        return list(dict.fromkeys(_in_json(parsed, "body")))
    return ["body"] if b"\x00" in body else []


class RejectNulMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        fields = ["path"] if NUL in scope["path"] else []
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        fields += [f"query.{name.replace(NUL, '')}" for name, value in query if NUL in name + value]
        if scope["method"] in _BODY_METHODS:
            body = await _read_body(receive)
            content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode(
                "latin-1"
            )
            fields += _in_body(body, content_type.lower())
            receive = _replay(body, receive)
        if not fields:
            await self.app(scope, receive, send)
            return
        reason = "must not contain the NUL character (U+0000)"
        await problem_response(
            422,
            f"{len(fields)} field(s) failed validation",
            kind="validation-error",
            errors=[{"field": field, "reason": reason, "code": "nul_character"} for field in fields],
        )(scope, receive, send)

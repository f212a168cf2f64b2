"""The correlation id of the request (or consumed event) being handled."""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str:
    value = _current.get()
    if value is None:
        value = str(uuid.uuid4())
        _current.set(value)
    return value


def set_correlation_id(value: str) -> Token[str | None]:
    return _current.set(value)


def reset_correlation_id(token: Token[str | None]) -> None:
    _current.reset(token)

"""What a service's rules and records can refuse, the same in every service. Pure (no I/O, no frameworks): a
domain module may raise these, and ``dipflow.http.problems`` answers each as problem+json once for all routes;
a consumer dead-letters them with their reason (``dipflow.events.consumer``)."""

from __future__ import annotations


class RuleViolation(Exception):
    """An action the rules forbid: a 409 naming ``rule_id`` (docs/rules.md) with ``reason`` in plain words."""

    def __init__(self, rule_id: str, reason: str) -> None:
        super().__init__(f"{rule_id}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


class NotFound(LookupError):
    """A record the request names does not exist: a 404 saying which (``what``)."""

    def __init__(self, what: str, key: str = "") -> None:
        super().__init__(f"no such {what}" + (f": {key}" if key else ""))
        self.what = what
        self.key = key


class ConcurrentChange(Exception):
    """The record changed between loading and saving it: a 409 asking the caller to retry."""


class Conflict(Exception):
    """The request contradicts what is recorded (not a rule of the law: an overlap, a repeat): a 409 of ``kind``."""

    def __init__(self, detail: str, *, kind: str = "conflict") -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind


class Forbidden(Exception):
    """The caller may not do this (beyond role and area, which the route checks): a 403 of ``kind``, naming the
    rule it rests on when there is one."""

    def __init__(self, detail: str, *, kind: str = "forbidden", rule_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind
        self.rule_id = rule_id


class InvalidInput(ValueError):
    """Input the rules cannot act on, found after validation: a 422 naming the ``field`` and the ``reason``;
    ``extensions`` become members of the problem (``known_codes``)."""

    def __init__(
        self, detail: str, *, field: str, reason: str, kind: str = "validation-error", **extensions: object
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.reason = reason
        self.kind = kind
        self.extensions = extensions

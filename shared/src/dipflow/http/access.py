"""One way to declare who may call a route: ``Depends(requires(Role.analyst, area="borough"))``.

Denial is 401 (no token, or a token that does not verify) or 403 (a role the route does not allow, an area
the caller does not cover, or national scope claimed by a role whose work is not national) — never a 200 with
partial data. Only a request that passed these checks may be answered from an earlier one with the same
``Idempotency-Key`` (:mod:`dipflow.http.idempotency`). The declaration is kept on the dependency
(``.roles``, ``.area_param``) so the access table of every route can be read back from the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dipflow.auth.principal import NATIONAL_ROLES, Principal, Role
from dipflow.auth.tokens import AuthSettings, InvalidToken, TokenVerifier
from dipflow.db.appends import INSERT_AUDIT
from dipflow.http.context import current_correlation_id
from dipflow.http.idempotency import claim_or_replay
from dipflow.http.problems import Problem
from dipflow.uow import Producer, UnitOfWork, reading, unit_of_work

_bearer = HTTPBearer(auto_error=False, description="A bearer JWT from the identity provider")
_bearer_dep = Depends(_bearer)


@dataclass(frozen=True)
class AuthContext:
    """The verified caller of one request: who they are, and the work they may open in the service."""

    principal: Principal
    pool: asyncpg.Pool
    producer: Producer
    correlation_id: str

    def require_area(self, area: str) -> None:
        """For records whose area is only known after loading them: 403 unless the caller covers it."""
        if not self.principal.covers(area):
            raise Problem(403, "this record belongs to an area you do not cover", kind="wrong-area")

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """One transaction acting as this caller, under this request's correlation id."""
        return unit_of_work(
            self.pool, self.producer, correlation_id=self.correlation_id, actor=self.principal
        )

    def reading(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Reads acting as this caller, without a transaction (an access check, a list, a read and its audit)."""
        return reading(self.pool, self.producer, correlation_id=self.correlation_id, actor=self.principal)

    async def audit(
        self, action: str, person_id: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """An audit row on its own (a read that opened no unit of work)."""
        p = self.principal
        await self.pool.execute(
            INSERT_AUDIT, p.subject, str(p.role), p.area, action, person_id, self.correlation_id, detail or {}
        )


def install_auth(app: FastAPI, settings: AuthSettings) -> None:
    app.state.token_verifier = TokenVerifier(settings)


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "a bearer token is required",
            kind="missing-token",
            headers={"WWW-Authenticate": 'Bearer realm="dipflow"'},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise Problem(
            401,
            str(exc),
            kind="invalid-token",
            headers={"WWW-Authenticate": 'Bearer realm="dipflow", error="invalid_token"'},
        ) from exc


Requirement = Callable[..., Awaitable[AuthContext]]


def requires(*roles: Role, area: str | None = None) -> Requirement:
    """Allow ``roles`` (all when none are given); with ``area``, the caller must cover the area named by
    that path or query parameter. ``admin`` is not implied: list it where admins are allowed."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = _bearer_dep
    ) -> AuthContext:
        principal = authenticate(request, credentials)
        if principal.national and principal.role not in NATIONAL_ROLES:
            raise Problem(
                403,
                f"national scope (area *) is only for {', '.join(sorted(NATIONAL_ROLES))}; "
                f"a {principal.role} token names a force or a borough",
                kind="national-scope-refused",
            )
        if allowed and principal.role not in allowed:
            raise Problem(
                403,
                f"the role {principal.role} may not do this",
                kind="wrong-role",
                allowed_roles=sorted(str(r) for r in allowed),
            )
        if area is not None:
            wanted = request.path_params.get(area) or request.query_params.get(area)
            if wanted is not None and not principal.covers(str(wanted)):
                raise Problem(403, f"you do not cover the area {wanted!r}", kind="wrong-area")
        request.state.principal = principal
        await claim_or_replay(request, principal)
        return AuthContext(
            principal=principal,
            pool=request.app.state.resources.pool,
            producer=request.app.state.producer,
            correlation_id=current_correlation_id(),
        )

    dependency.roles = allowed  # type: ignore[attr-defined]
    dependency.area_param = area  # type: ignore[attr-defined]
    return dependency

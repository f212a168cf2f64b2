"""The signed-in session: the bearer token in an HttpOnly, SameSite=Strict cookie.

Page scripts never see the token; the proxy adds ``Authorization: Bearer`` from the cookie, so the browser's
EventSource (which cannot set headers) reaches the live inbox. The token is verified with the same
``DIPFLOW_AUTH_*`` settings as the services; the services still decide every authorisation."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from dipflow.auth.principal import Principal, Role
from dipflow.auth.tokens import InvalidToken, TokenVerifier

COOKIE = "dipflow_session"
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal
    expires_at: int
    display_name: str = ""
    """How the masthead names the person: the provider's name or username for them, else the token's subject."""


def _session(token: str, principal: Principal) -> Session:
    """A session for a token that has already been verified."""
    claims = jwt.decode(token, options={"verify_signature": False})
    name = claims.get("name") or claims.get("preferred_username") or principal.subject
    return Session(token, principal, int(claims["exp"]), str(name))


def sign_in(verifier: TokenVerifier, given: str) -> Session:
    """Check a pasted token; raises InvalidToken with a reason a person can act on."""
    token = given.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise InvalidToken("paste a token")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("that is too long to be a token")
    return _session(token, verifier.verify(token))


def current(verifier: TokenVerifier, cookies: Mapping[str, str]) -> Session | None:
    """The session of a request, or None when there is no cookie or its token no longer verifies."""
    token = cookies.get(COOKIE)
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        return _session(token, verifier.verify(token))
    except InvalidToken:
        return None


def cookie_attributes(session: Session, *, secure: bool, now: float | None = None) -> dict[str, object]:
    """Arguments for ``Response.set_cookie``: the cookie lives no longer than the token."""
    max_age = max(0, session.expires_at - int(now if now is not None else time.time()))
    return {
        "key": COOKIE,
        "value": session.token,
        "max_age": max_age,
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
    }


def clearing_attributes(*, secure: bool) -> dict[str, object]:
    """Arguments for ``Response.delete_cookie`` matching the cookie that was set."""
    return {"key": COOKIE, "path": "/", "httponly": True, "samesite": "strict", "secure": secure}


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def safe_next(target: str | None) -> str | None:
    """Where to go after signing in: only a path on this site (no ``//host`` or scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x20 for c in target):
        return None
    return target


# The page each role starts on (anyone may open any page; the services answer what they may see).
HOME_OF: dict[Role, str] = {
    Role.referral_worker: "/inbox",
    Role.probation_liaison: "/liaison/probation",
    Role.police_enforcement: "/police",
    Role.court_liaison: "/liaison/court",
    Role.analyst: "/dashboard",
    Role.admin: "/dashboard",
    Role.ppo_coordinator: "/register",
    Role.referral_manager: "/team",
    Role.inspector: "/inspector",
    Role.custody_officer: "/custody",
}

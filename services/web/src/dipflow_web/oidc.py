"""Sign-in through an OpenID Connect provider: the authorization code flow with PKCE (S256).

``GET /sign-in/oidc?next=`` sends the browser to the provider with a fresh ``state`` and code challenge; the state,
the PKCE verifier and where to go next wait in a short-lived, HMAC-signed, HttpOnly cookie (SameSite=Lax, so it
comes back on the provider's redirect). ``GET /auth/callback`` checks the state, exchanges the code with the
verifier, verifies the access token exactly as the services do (JWKS) and starts the session. Signing out ends the
provider's session too (RP-initiated logout with the ID token as hint)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dipflow.auth.tokens import InvalidToken, TokenVerifier
from dipflow.logging import get_logger
from dipflow_web import session as sessions
from dipflow_web.settings import WebSettings

log = get_logger("dipflow.web.oidc")
router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "dipflow_login"
ID_COOKIE = "dipflow_id"
LOGIN_TTL_S = 600


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    end_session_endpoint: str | None


class SignInFailed(Exception):
    """The provider's answer could not start a session; the message says why, for the person."""


async def provider(client: httpx.AsyncClient, settings: WebSettings) -> Provider:
    """The provider's endpoints from its discovery document."""
    assert settings.oidc_issuer is not None
    answer = await client.get(f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration")
    answer.raise_for_status()
    found = answer.json()
    return Provider(
        found["authorization_endpoint"], found["token_endpoint"], found.get("end_session_endpoint")
    )


def _sign(secret: str, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload).decode() + "." + base64.urlsafe_b64encode(mac).decode()


def _unsign(secret: str, value: str) -> dict[str, Any] | None:
    try:
        body, mac = value.split(".", 1)
        payload = base64.urlsafe_b64decode(body)
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, base64.urlsafe_b64decode(mac)):
            return None
        found: dict[str, Any] = json.loads(payload)
    except (ValueError, TypeError):
        return None
    return found if found.get("exp", 0) > time.time() else None


def challenge_of(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _callback_url(request: Request) -> str:
    return str(request.url_for("callback"))


def _settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


@router.get("/sign-in/oidc")
async def start(request: Request, next: str | None = None) -> Response:
    settings = _settings(request)
    if settings.oidc_issuer is None:
        return RedirectResponse("/sign-in", status_code=303)
    found = await provider(request.app.state.upstream, settings)
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    query = {
        "client_id": settings.oidc_client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": _callback_url(request),
        "state": state,
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{found.authorization_endpoint}?{urlencode(query)}", status_code=303)
    login = {
        "state": state,
        "verifier": verifier,
        "next": sessions.safe_next(next),
        "exp": time.time() + LOGIN_TTL_S,
    }
    response.set_cookie(
        LOGIN_COOKIE,
        _sign(settings.login_secret.get_secret_value(), json.dumps(login).encode()),
        max_age=LOGIN_TTL_S,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


async def _exchange(request: Request, code: str, verifier: str) -> dict[str, Any]:
    settings = _settings(request)
    client: httpx.AsyncClient = request.app.state.upstream
    found = await provider(client, settings)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _callback_url(request),
        "client_id": settings.oidc_client_id,
        "code_verifier": verifier,
    }
    answer = await client.post(found.token_endpoint, data=form)
    if answer.status_code != 200:
        log.warning("oidc_code_refused", status=answer.status_code)
        raise SignInFailed("the identity provider did not accept the sign-in; try again")
    tokens: dict[str, Any] = answer.json()
    return tokens


@router.get("/auth/callback", name="callback")
async def callback(request: Request, code: str | None = None, state: str | None = None) -> Response:
    """The provider's answer: a session, or the sign-in page saying what went wrong."""
    settings = _settings(request)
    login = _unsign(settings.login_secret.get_secret_value(), request.cookies.get(LOGIN_COOKIE, ""))
    if login is None or not state or not hmac.compare_digest(str(login["state"]), state) or not code:
        return _failed("state")
    try:
        tokens = await _exchange(request, code, str(login["verifier"]))
        verifier: TokenVerifier = request.app.state.verifier
        found = sessions.sign_in(verifier, str(tokens.get("access_token", "")))
    except (SignInFailed, InvalidToken, httpx.HTTPError) as exc:
        log.warning("oidc_sign_in_failed", error=str(exc))
        return _failed("refused")
    response = RedirectResponse(login.get("next") or sessions.HOME_OF[found.principal.role], status_code=303)
    response.set_cookie(**sessions.cookie_attributes(found, secure=settings.cookie_secure))  # type: ignore[arg-type]
    if tokens.get("id_token"):
        response.set_cookie(
            ID_COOKIE,
            str(tokens["id_token"]),
            max_age=max(0, found.expires_at - int(time.time())),
            path="/",
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
        )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


FAILURES = {
    "state": "The sign-in did not come back as it was sent, or took too long. Sign in again.",
    "refused": "The identity provider's answer did not let you in. Sign in again, or ask your administrator.",
}
"""What the sign-in page says after a failed return from the provider (fixed words, never the query's)."""


def _failed(kind: str) -> Response:
    response = RedirectResponse(f"/sign-in?failed={kind}", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


async def end_session_url(request: Request) -> str | None:
    """Where to send the browser to end the provider's session too, back to the sign-in page; None without one."""
    settings = _settings(request)
    if settings.oidc_issuer is None:
        return None
    try:
        found = await provider(request.app.state.upstream, settings)
    except httpx.HTTPError:
        return None
    if found.end_session_endpoint is None:
        return None
    query = {
        "client_id": settings.oidc_client_id,
        "post_logout_redirect_uri": str(request.url_for("sign_in_form")),
    }
    if hint := request.cookies.get(ID_COOKIE):
        query["id_token_hint"] = hint
    return f"{found.end_session_endpoint}?{urlencode(query)}"

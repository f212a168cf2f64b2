"""Sign-in through an OpenID Connect provider, in process with a stub provider: the redirect carries an S256
challenge of the verifier kept in the signed sign-in cookie; the callback checks the state, sends the verifier,
verifies the token and starts the session; a forged or stale return starts nothing; pasting a token is refused
once a provider is configured (unless development asks for it); signing out ends the provider's session."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow_web.main import create_app
from dipflow_web.oidc import LOGIN_COOKIE, challenge_of
from dipflow_web.session import COOKIE
from dipflow_web.settings import WebSettings

SECRET = "web-oidc-unit-secret-" + "q" * 32
ISSUER = "http://idp.test/realms/dipflow"


class Provider:
    """Answers discovery and the token endpoint like an OpenID Connect provider; records the code exchange."""

    def __init__(self) -> None:
        self.exchanged: list[dict[str, list[str]]] = []
        self.challenge = ""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
                    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
                    "end_session_endpoint": f"{ISSUER}/protocol/openid-connect/logout",
                },
            )
        if request.url.path.endswith("/token"):
            form = parse_qs(request.content.decode())
            self.exchanged.append(form)
            if challenge_of(form["code_verifier"][0]) != self.challenge or form["code"] != ["the-code"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            token = mint_token(SECRET, subject="kc-user", role=Role.inspector, area="metropolitan")
            return httpx.Response(200, json={"access_token": token, "id_token": "the-id-token"})
        return httpx.Response(200, json={"status": "ok"})


def client_for(provider: Provider, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    async def make() -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            WebSettings(log_json=False, oidc_issuer=ISSUER, **settings),  # type: ignore[arg-type]
            AuthSettings(dev_secret=SECRET),
            httpx.MockTransport(provider),
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as c:
                yield c

    return make()


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
async def web(provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_for(provider):
        yield c


def login_cookie(value: str) -> dict[str, object]:
    found: dict[str, object] = json.loads(base64.urlsafe_b64decode(value.split(".", 1)[0]))
    return found


async def test_the_code_flow_sends_an_s256_challenge_and_exchanges_the_code_with_its_verifier(
    web: httpx.AsyncClient, provider: Provider
) -> None:
    started = await web.get("/sign-in/oidc", params={"next": "/inspector?suite=MET-BRIXTON"})
    assert started.status_code == 303
    sent = urlsplit(started.headers["location"])
    query = {k: v[0] for k, v in parse_qs(sent.query).items()}
    assert f"{sent.scheme}://{sent.netloc}{sent.path}" == f"{ISSUER}/protocol/openid-connect/auth"
    assert (query["response_type"], query["code_challenge_method"], query["client_id"]) == (
        "code",
        "S256",
        "dipflow-web",
    )
    assert query["redirect_uri"] == "http://web.test/auth/callback"
    kept = login_cookie(web.cookies[LOGIN_COOKIE])
    assert challenge_of(str(kept["verifier"])) == query["code_challenge"] and kept["state"] == query["state"]
    provider.challenge = query["code_challenge"]

    back = await web.get("/auth/callback", params={"code": "the-code", "state": query["state"]})
    assert back.status_code == 303 and back.headers["location"] == "/inspector?suite=MET-BRIXTON"
    assert provider.exchanged[0]["code_verifier"] == [kept["verifier"]]
    assert web.cookies.get(COOKIE) and LOGIN_COOKIE not in web.cookies
    assert (await web.get("/inspector")).status_code == 200  # signed in

    out = await web.post("/sign-out", headers={"origin": "http://web.test"})
    ended = urlsplit(out.headers["location"])
    assert ended.path.endswith("/logout") and parse_qs(ended.query)["id_token_hint"] == ["the-id-token"]
    assert parse_qs(ended.query)["post_logout_redirect_uri"] == ["http://web.test/sign-in"]
    assert COOKIE not in web.cookies


async def test_a_return_with_another_state_or_no_sign_in_cookie_starts_no_session(
    web: httpx.AsyncClient, provider: Provider
) -> None:
    forged = await web.get("/auth/callback", params={"code": "the-code", "state": "forged"})
    assert forged.headers["location"] == "/sign-in?failed=state" and COOKIE not in web.cookies
    started = await web.get("/sign-in/oidc")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    wrong = await web.get("/auth/callback", params={"code": "the-code", "state": state + "x"})
    assert wrong.headers["location"] == "/sign-in?failed=state"
    again = await web.get("/auth/callback", params={"code": "the-code", "state": state})
    assert again.headers["location"] == "/sign-in?failed=state"  # a failed return used the sign-in up
    started = await web.get("/sign-in/oidc")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    refused = await web.get(
        "/auth/callback", params={"code": "the-code", "state": state}
    )  # no challenge known
    assert refused.headers["location"] == "/sign-in?failed=refused" and COOKIE not in web.cookies
    page = await web.get("/sign-in", params={"failed": "state"})
    assert "did not come back as it was sent" in page.text
    assert "forged" not in (await web.get("/sign-in", params={"failed": "forged<script>"})).text


async def test_with_a_provider_pasting_a_token_is_refused_unless_development_asks_for_it(
    provider: Provider,
) -> None:
    token = mint_token(SECRET, subject="x", role=Role.inspector, area="metropolitan")
    async for web in client_for(provider):
        form = await web.get("/sign-in")
        assert "Sign in with your organisation account" in form.text and 'id="token"' not in form.text
        # forms may end at the provider (signing in and out redirect there), nowhere else
        assert "form-action 'self' http://idp.test;" in form.headers["content-security-policy"]
        pasted = await web.post("/sign-in", data={"token": token}, headers={"origin": "http://web.test"})
        assert pasted.status_code == 403 and COOKIE not in web.cookies
    async for web in client_for(provider, token_sign_in=True):
        assert 'id="token"' in (await web.get("/sign-in")).text
        pasted = await web.post("/sign-in", data={"token": token}, headers={"origin": "http://web.test"})
        assert pasted.status_code == 303 and web.cookies.get(COOKIE)

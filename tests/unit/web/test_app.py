"""The web app in process, with the four services replaced by a stub transport: sign-in sets the cookie, pages
need a session, the proxy turns the cookie into a bearer token and passes the services' answers (403s too)
through, and the live inbox is streamed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from dipflow.auth import AuthSettings, Role, mint_token
from dipflow_web.main import STATIC, create_app
from dipflow_web.session import COOKIE
from dipflow_web.settings import WebSettings

SECRET = "web-app-unit-secret-" + "p" * 32


class Services:
    """Stands in for the four services: records what reached them and answers like them."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path == "/v1/inbox/stream":

            async def events() -> AsyncIterator[bytes]:
                yield b": connected\n\n"
                yield b'event: assignment\ndata: {"assessment_id": "a1"}\n\n'

            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events())
        if request.url.path == "/v1/measures/k5":
            return httpx.Response(
                403,
                json={"title": "Forbidden", "status": 403, "detail": "analysts only"},
                headers={"content-type": "application/problem+json"},
            )
        body = {
            "path": request.url.path,
            "query": request.url.query.decode(),
            "auth": request.headers.get("authorization"),
        }
        return httpx.Response(200, json=body, headers={"set-cookie": "upstream=1", "x-correlation-id": "c"})


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    services = Services()
    app = create_app(
        WebSettings(log_json=False), AuthSettings(dev_secret=SECRET), httpx.MockTransport(services)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as c:
            yield c, services


def token(role: Role = Role.referral_worker) -> str:
    worker = "W-1" if role is Role.referral_worker else None
    return mint_token(SECRET, subject="alice", role=role, area="lambeth", worker_id=worker)


async def signed_in(c: httpx.AsyncClient, role: Role = Role.referral_worker) -> httpx.Response:
    return await c.post(
        "/sign-in", data={"token": token(role), "next": ""}, headers={"origin": "http://web.test"}
    )


async def test_pages_send_a_stranger_to_sign_in_and_remember_where_they_were_going(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, _ = client
    for page in (
        "/",
        "/custody",
        "/inspector",
        "/inbox",
        "/team",
        "/police",
        "/register",
        "/dashboard",
        "/liaison/probation",
        "/liaison/court",
        "/assessments/a1/notices",
    ):
        answer = await c.get(page)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in?next=%2F"), page
    form = await c.get("/sign-in")
    assert form.status_code == 200
    assert '<label for="token">Access token</label>' in form.text and 'id="token"' in form.text
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert form.headers["x-frame-options"] == "DENY"


async def test_signing_in_sets_an_http_only_strict_cookie_and_goes_to_the_role_s_page(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, _ = client
    answer = await signed_in(c)
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert re.search(r"Max-Age=(28[0-9]{3})", cookie)
    inbox = await c.get("/inbox")
    assert inbox.status_code == 200 and "worker W-1" in inbox.text and 'aria-live="polite"' in inbox.text
    liaison = await signed_in(c, Role.court_liaison)
    assert liaison.headers["location"] == "/liaison/court"
    officer = await signed_in(c, Role.custody_officer)  # every role of custody has its page
    assert officer.headers["location"] == "/custody"
    assert (await signed_in(c, Role.inspector)).headers["location"] == "/inspector"
    out = await c.post("/sign-out", headers={"origin": "http://web.test"})
    assert (
        out.status_code == 303
        and f'{COOKIE}=""' in out.headers["set-cookie"]
        and "Max-Age=0" in out.headers["set-cookie"]
    )
    assert (await c.get("/inbox")).status_code == 303


async def test_a_bad_token_or_a_form_from_another_site_does_not_sign_in(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, _ = client
    bad = await c.post("/sign-in", data={"token": "nonsense"})
    assert (
        bad.status_code == 401
        and "That token was not accepted" in bad.text
        and "set-cookie" not in bad.headers
    )
    forged = await c.post("/sign-in", data={"token": token()}, headers={"origin": "http://evil.example"})
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


async def test_the_proxy_adds_the_bearer_token_from_the_cookie_and_passes_answers_through(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, services = client
    await signed_in(c)
    answer = await c.get("/api/ppo-register/v1/tested-positive?borough=lambeth&format=csv")
    assert answer.status_code == 200
    assert answer.json() == {
        "path": "/v1/tested-positive",
        "query": "borough=lambeth&format=csv",
        "auth": f"Bearer {c.cookies[COOKIE]}",
    }
    assert "set-cookie" not in answer.headers  # the services' cookies (if any) stay behind the proxy
    reached = services.seen[-1]
    assert (
        reached.headers["x-correlation-id"] == answer.headers["x-correlation-id"]
    )  # one id, web and service
    assert (
        str(reached.url).startswith("http://127.0.0.1:8003/v1/tested-positive")
        and "cookie" not in reached.headers
    )
    refused = await c.get("/api/custody/v1/measures/k5")
    assert refused.status_code == 403 and refused.json()["detail"] == "analysts only"
    write = await c.post("/api/referral/v1/assessments/a1/attendance", json={"outcome": "attended"})
    assert write.status_code == 403 and len(services.seen) == 2  # no X-Dipflow-Web header: never sent on
    write = await c.post(
        "/api/referral/v1/assessments/a1/attendance",
        json={"outcome": "attended"},
        headers={"x-dipflow-web": "1", "origin": "http://web.test"},
    )
    assert write.status_code == 200 and services.seen[-1].content == b'{"outcome":"attended"}'
    assert (await c.get("/api/custody/metrics")).status_code == 404


async def test_without_a_cookie_the_services_decide_and_no_token_is_sent(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, services = client
    await c.get("/api/referral/v1/inbox")
    assert "authorization" not in services.seen[-1].headers


async def test_the_live_inbox_is_streamed_through(client: tuple[httpx.AsyncClient, Services]) -> None:
    c, _ = client
    await signed_in(c)
    answer = await c.get("/api/referral/v1/inbox/stream")
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text == ': connected\n\nevent: assignment\ndata: {"assessment_id": "a1"}\n\n'


async def test_ready_when_the_services_answer_and_chart_js_is_installed(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, _ = client
    ready = await c.get("/readyz")
    checks = ready.json()["checks"]
    assert {k: checks[k] for k in ("custody", "referral", "ppo-register", "breach")} == dict.fromkeys(
        ("custody", "referral", "ppo-register", "breach"), "ok"
    )
    assert (ready.status_code == 200) == (checks["chart.js"] == "ok")


async def test_the_web_app_serves_healthz_and_metrics_by_route_template_like_the_services(
    client: tuple[httpx.AsyncClient, Services],
) -> None:
    c, _ = client
    assert (await c.get("/healthz")).json() == {"status": "ok", "service": "web"}
    await c.get("/liaison/court?area=lambeth")
    metrics = await c.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    served = [line for line in metrics.text.splitlines() if line.startswith("dipflow_http_requests_total{")]
    assert any('service="web"' in line and 'route="/liaison/court"' in line for line in served), served
    assert not any("lambeth" in line for line in served)  # never the raw path or query


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_have_at_least_4_5_to_1_contrast_on_their_backgrounds() -> None:
    css = (STATIC / "site.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = {
        "text on page": (var["text"], var["bg"]),
        "muted on page": (var["muted"], var["bg"]),
        "muted on panel": (var["muted"], var["panel"]),
        "link on page": (var["link"], var["bg"]),
        "link on new card": (var["link"], var["new-bg"]),
        "button text": ("#ffffff", var["ok"]),
        "warning button": ("#ffffff", var["bad"]),
        "masthead": ("#ffffff", var["brand"]),
        "overdue text": (var["bad"], var["bad-bg"]),
        "text on warning panel": (var["text"], var["warn-bg"]),
        "secondary button": (var["text"], var["panel"]),
        "focus": (var["text"], var["focus"]),
    }
    low = {name: round(contrast(*pair), 2) for name, pair in pairs.items() if contrast(*pair) < 4.5}
    assert low == {}


def test_chart_colours_stand_out_from_the_white_background_by_at_least_3_to_1() -> None:
    palette = re.search(r"const PALETTE = \[([^\]]+)\]", (STATIC / "dashboard.js").read_text())
    assert palette is not None
    colours = re.findall(r"#[0-9a-f]{6}", palette.group(1))
    assert len(colours) >= 5 and [c for c in colours if contrast(c, "#ffffff") < 3] == []

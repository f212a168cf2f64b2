"""The web app's pure parts: which proxy paths reach a service, which writes are accepted, which headers pass,
and the session cookie (HttpOnly, SameSite=Strict, no longer than the token)."""

from __future__ import annotations

import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow.auth import AuthSettings, InvalidToken, Principal, Role, TokenVerifier, mint_token
from dipflow_web.pages import chosen_area, covered_boroughs, london_time
from dipflow_web.proxy import Refused, check_write, request_headers, response_headers, target_path
from dipflow_web.session import COOKIE, clearing_attributes, cookie_attributes, current, safe_next, sign_in

SECRET = "web-unit-secret-" + "k" * 32
VERIFIER = TokenVerifier(AuthSettings(dev_secret=SECRET))
OWN = "http://127.0.0.1:8005"


@pytest.mark.parametrize(
    ("service", "raw", "upstream"),
    [
        ("referral", "/api/referral/v1/inbox", "/v1/inbox"),
        ("referral", "/api/referral/v1/inbox/stream", "/v1/inbox/stream"),
        ("ppo-register", "/api/ppo-register/v1/tested-positive", "/v1/tested-positive"),
        ("custody", "/api/custody/v1/ppo-status/08%2F123456X", "/v1/ppo-status/08%2F123456X"),
        ("breach", "/api/breach/v1/measures/k3", "/v1/measures/k3"),
    ],
)
def test_the_services_v1_apis_are_reachable_as_written(service: str, raw: str, upstream: str) -> None:
    assert target_path(service, raw) == upstream


@pytest.mark.parametrize(
    ("service", "raw"),
    [
        ("custody", "/api/custody/metrics"),  # not an API
        ("custody", "/api/custody/docs"),
        ("custody", "/api/custody/openapi.json"),
        ("custody", "/api/custody/v1"),
        ("custody", "/api/custody/v2/detentions"),
        ("custody", "/api/custody/v1/../metrics"),
        ("custody", "/api/custody/v1/%2e%2e/metrics"),
        ("custody", "/api/custody/v1/x/..%2F..%2Fmetrics"),
        ("custody", "/api/custody/v1//detentions"),
        ("custody", "/api/custody/v1/a%00b"),
        ("custody", "/api/custody/v1/a%5Cb"),
        ("custody", "/api/custody/v1/a b"),
        ("admin", "/api/admin/v1/audit"),  # no such service
        ("ppo-register", "/api/ppo%2Dregister/v1/register"),  # the service name written in disguise
    ],
)
def test_anything_else_is_refused(service: str, raw: str) -> None:
    with pytest.raises(Refused) as refused:
        target_path(service, raw)
    assert refused.value.status == 404


@given(st.text(max_size=40))
def test_no_path_escapes_v1(rest: str) -> None:
    try:
        path = target_path("referral", "/api/referral/" + rest)
    except Refused:
        return
    assert path.startswith("/v1/") and "/../" not in path + "/" and "/./" not in path + "/"


def test_reads_pass_and_writes_need_the_header_and_this_site() -> None:
    check_write("GET", {}, OWN)
    check_write("POST", {"x-dipflow-web": "1", "origin": OWN, "sec-fetch-site": "same-origin"}, OWN)
    check_write("PUT", {"x-dipflow-web": "1"}, OWN)  # a client that sends no Origin (not a browser)
    for headers in (
        {},  # a plain cross-site form post cannot add the header
        {"x-dipflow-web": "1", "origin": "http://evil.example"},
        {"x-dipflow-web": "1", "origin": "null"},
        {"x-dipflow-web": "1", "sec-fetch-site": "cross-site"},
        {"x-dipflow-web": "1", "sec-fetch-site": "same-site"},
    ):
        with pytest.raises(Refused) as refused:
            check_write("POST", headers, OWN)
        assert refused.value.status == 403


def test_only_allow_listed_headers_pass_and_the_cookie_becomes_a_bearer_token() -> None:
    sent = request_headers(
        {
            "accept": "application/json",
            "content-type": "application/json",
            "cookie": f"{COOKIE}=t",
            "idempotency-key": "k1",
            "x-correlation-id": "c1",
            "authorization": "Bearer forged",
            "host": "x",
        },
        "the-token",
        "c2",
    )
    assert sent == {
        "accept": "application/json",
        "content-type": "application/json",
        "idempotency-key": "k1",
        "x-correlation-id": "c2",
        "Authorization": "Bearer the-token",
    }
    assert "Authorization" not in request_headers({"authorization": "Bearer forged"}, None, "c3")
    back = response_headers(
        httpx.Headers(
            {
                "content-type": "text/csv",
                "content-disposition": "attachment",
                "set-cookie": "a=b",
                "content-length": "3",
                "connection": "close",
            }
        )
    )
    assert back == {"content-type": "text/csv", "content-disposition": "attachment"}


def _token(role: Role = Role.referral_worker, ttl: int = 3600, now: float | None = None) -> str:
    worker = "W-1" if role is Role.referral_worker else None
    return mint_token(
        SECRET, subject="alice", role=role, area="lambeth", worker_id=worker, ttl_s=ttl, now=now
    )


def test_signing_in_verifies_the_token_and_the_cookie_lives_no_longer_than_it() -> None:
    issued = time.time()
    session = sign_in(VERIFIER, f"  Bearer {_token(now=issued)}\n")
    assert (session.principal.role, session.principal.worker_id) == (Role.referral_worker, "W-1")
    attributes = cookie_attributes(session, secure=True, now=issued + 600)
    assert attributes["key"] == COOKIE and attributes["value"] == session.token
    assert (attributes["httponly"], attributes["samesite"], attributes["secure"], attributes["path"]) == (
        True,
        "strict",
        True,
        "/",
    )
    assert attributes["max_age"] == session.expires_at - int(issued + 600) <= 3600 - 600 + 1
    assert cookie_attributes(session, secure=False)["secure"] is False
    assert clearing_attributes(secure=True) == {
        "key": COOKIE,
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        "secure": True,
    }


@pytest.mark.parametrize(
    ("given_token", "reason"),
    [
        ("", "paste a token"),
        ("not-a-token", "not valid"),
        (mint_token("another-secret-" + "q" * 32, subject="a", role=Role.analyst, area="*"), "signature"),
        ("x" * 9000, "too long"),
    ],
)
def test_a_bad_token_is_refused_with_a_reason(given_token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        sign_in(VERIFIER, given_token)


def test_a_request_without_a_good_cookie_has_no_session() -> None:
    assert current(VERIFIER, {}) is None
    assert current(VERIFIER, {COOKIE: "garbage"}) is None
    expired = _token(ttl=60, now=time.time() - 3600)
    assert current(VERIFIER, {COOKIE: expired}) is None
    good = current(VERIFIER, {COOKIE: _token(Role.analyst)})
    assert good is not None and good.principal.role is Role.analyst


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/inbox", "/inbox"),
        ("/dashboard?borough=camden", "/dashboard?borough=camden"),
        ("//evil.example", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("/x\r\nSet-Cookie: a=b", None),
        ("", None),
        (None, None),
    ],
)
def test_after_signing_in_only_a_path_on_this_site_is_followed(target: str | None, kept: str | None) -> None:
    assert safe_next(target) == kept


def test_areas_to_pick_follow_the_token_and_the_areas_custody_manages() -> None:
    force_of = {"lambeth": "metropolitan", "camden": "metropolitan", "birmingham": "west-midlands"}
    assert covered_boroughs(Principal("s", Role.court_liaison, "lambeth"), force_of) == ["lambeth"]
    met = covered_boroughs(Principal("s", Role.analyst, "metropolitan"), force_of)
    assert met == ["camden", "lambeth"]
    national = covered_boroughs(Principal("s", Role.admin, "*"), force_of)
    assert national == ["birmingham", "camden", "lambeth"]
    added = covered_boroughs(Principal("s", Role.admin, "*"), {**force_of, "newham": "metropolitan"})
    assert "newham" in added  # a borough an admin adds is offered without a release
    liaison = Principal("s", Role.probation_liaison, "metropolitan")
    assert chosen_area(liaison, met, "camden") == "camden"
    assert chosen_area(liaison, met, "birmingham") == "camden"
    own = Principal("s", Role.probation_liaison, "lambeth")
    assert chosen_area(own, ["lambeth"], "camden") == "lambeth"
    # a known borough they do not cover stays chosen: the services' 403 is shown, not another area's data
    assert chosen_area(own, ["lambeth"], "camden", force_of) == "camden"
    assert chosen_area(own, ["lambeth"], "nowhere", force_of) == "lambeth"
    assert covered_boroughs(own, {}) == ["lambeth"]  # custody not answering: the person's own area


def test_notice_times_are_shown_in_london_time() -> None:
    assert london_time("2026-07-01T09:30:00+00:00") == "Wed 01 Jul 2026, 10:30"  # BST
    assert london_time("2026-12-01T09:30:00Z") == "Tue 01 Dec 2026, 09:30"
    assert london_time(None) == "\u2013"

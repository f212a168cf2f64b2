"""The pages: sign-in and sign-out, the custody suite board, the inspector's decisions, the worker inbox, the
liaison views, the measures dashboard and the printable notices. Pages are server-rendered shells; their data comes from the services through the proxy."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from dipflow.auth.principal import NATIONAL, Principal, Role
from dipflow.auth.tokens import InvalidToken, TokenVerifier
from dipflow.logging import get_logger
from dipflow_web import oidc
from dipflow_web import session as sessions
from dipflow_web.session import Session

log = get_logger("dipflow.web.pages")
router = APIRouter(include_in_schema=False)
RECORD_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_FORM = 16_384
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    roles: tuple[Role, ...]


ALERTED_BY = {
    Role.referral_worker: "referral",
    Role.referral_manager: "referral",
    Role.court_liaison: "referral",
    Role.custody_officer: "custody",
    Role.inspector: "custody",
    Role.police_enforcement: "breach",
    Role.probation_liaison: "breach",
}
"""The service whose alerts each role's pages show (docs/decisions/0012)."""
DOCUMENTS = frozenset({"notices.html", "test_record.html", "return.html"})
"""Pages that are printable documents for the person: no alerts panel on them."""

PAGES = (
    Page("/custody", "Custody suite board", (Role.custody_officer,)),
    Page("/inspector", "Inspector's decisions", (Role.inspector,)),
    Page("/inbox", "My inbox", (Role.referral_worker,)),
    Page("/team", "Referral team", (Role.referral_manager,)),
    Page("/police", "Arrest requests", (Role.police_enforcement,)),
    Page("/register", "PPO register", (Role.ppo_coordinator,)),
    Page(
        "/liaison/probation",
        "Breach cases and arrest requests",
        (Role.probation_liaison, Role.police_enforcement, Role.admin),
    ),
    Page("/liaison/court", "Restriction on bail", (Role.court_liaison, Role.admin)),
    Page(
        "/dashboard",
        "Measures K1\u2013K5",
        (
            Role.analyst,
            Role.admin,
            Role.ppo_coordinator,
            Role.referral_manager,
            Role.inspector,
            Role.probation_liaison,
            Role.police_enforcement,
        ),
    ),
    Page(
        "/returns",
        "Quarterly return",
        (Role.analyst, Role.admin, Role.ppo_coordinator, Role.referral_manager),
    ),
)


def london_time(value: str | None) -> str:
    """An ISO instant as people in England read it: ``Mon 23 Nov 2026, 22:26``."""
    if not value:
        return "\u2013"  # an en dash: no time
    return datetime.fromisoformat(value).astimezone(LONDON).strftime("%a %d %b %Y, %H:%M")


def calendar_day(value: str | None) -> str:
    """A calendar date (``YYYY-MM-DD``) as people in England read it: ``Mon 14 Jan 2008``."""
    if not value:
        return "\u2013"
    return date.fromisoformat(value[:10]).strftime("%a %d %b %Y")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("dipflow_web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["london"] = london_time
    environment.filters["day"] = calendar_day
    return environment


def covered_boroughs(principal: Principal, force_of: dict[str, str]) -> list[str]:
    """The boroughs a person may pick, from the areas custody manages (borough → its force): all for national,
    a force's boroughs, or their own borough."""
    if principal.area == NATIONAL:
        return sorted(force_of)
    return sorted(b for b, force in force_of.items() if force == principal.area) or [principal.area]


def chosen_area(
    principal: Principal, boroughs: list[str], asked: str | None, known: Collection[str] = ()
) -> str:
    """The area asked for when the person covers it, or when it is a borough custody knows that they do not
    cover (the services then refuse it with 403, which the page shows in words, rather than quietly showing
    another area); else the person's own area or the first they cover."""
    if asked is not None and (asked in boroughs or asked in known):
        return asked
    return principal.area if principal.area in boroughs or not boroughs else boroughs[0]


async def borough_forces(request: Request, session: Session) -> dict[str, str]:
    """Every borough custody knows today with its force (reference data: a borough added by an admin appears
    at once); empty when custody does not answer, so the page offers the person's own area."""
    client: httpx.AsyncClient = request.app.state.upstream
    base = request.app.state.settings.service_urls()["custody"]
    try:
        answer = await client.get(f"{base}/v1/areas", headers=sessions.bearer(session.token))
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("areas_unavailable", error=type(exc).__name__)
        return {}
    return {a["code"]: a["force"] for a in answer.json() if a["kind"] == "borough"}


async def area_choice(request: Request, session: Session, asked: str | None) -> dict[str, Any]:
    force_of = await borough_forces(request, session)
    boroughs = covered_boroughs(session.principal, force_of)
    area = chosen_area(session.principal, boroughs, asked, force_of)
    return {"areas": boroughs if area in boroughs else [*boroughs, area], "area": area}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session: Session | None = context.get("session")
    principal = session.principal if session else None
    nav = [
        {"path": p.path, "title": p.title, "current": request.url.path == p.path}
        for p in PAGES
        if principal is not None and (principal.role in p.roles or principal.role is Role.admin)
    ]
    alerted = principal is not None and template not in DOCUMENTS
    alerts_service = ALERTED_BY.get(principal.role) if alerted and principal is not None else None
    html = (
        _environment()
        .get_template(template)
        .render(principal=principal, nav=nav, alerts_service=alerts_service, **context)
    )
    return HTMLResponse(html, status_code=status_code, headers={"cache-control": "no-store"})


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.cookie_secure)


def signed_in(request: Request) -> Session | None:
    return sessions.current(_verifier(request), request.cookies)


def to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    expired = "&expired=1" if sessions.COOKIE in request.cookies else ""
    response = RedirectResponse(f"/sign-in?next={quote(target, safe='')}{expired}", status_code=303)
    if expired:
        response.delete_cookie(**sessions.clearing_attributes(secure=_secure(request)))  # type: ignore[arg-type]
    return response


def _same_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _sign_in_page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    return render(
        request,
        "sign_in.html",
        status_code,
        provider=settings.oidc_issuer is not None,
        pastes_tokens=settings.pastes_tokens,
        **context,
    )


@router.get("/sign-in")
async def sign_in_form(
    request: Request, next: str | None = None, expired: bool = False, failed: str | None = None
) -> Response:
    return _sign_in_page(
        request,
        next=sessions.safe_next(next) or "",
        notice="Your session has ended. Sign in again." if expired else None,
        error=oidc.FAILURES.get(failed or ""),
    )


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM].decode("utf-8", "replace"), max_num_fields=5)
    target = sessions.safe_next((form.get("next") or [""])[0])
    if not _same_site(request):
        return _sign_in_page(request, 403, next=target or "", error="Sign in from this site's own form.")
    if not request.app.state.settings.pastes_tokens:
        return _sign_in_page(
            request, 403, next=target or "", error="Sign in with your organisation's account, not a token."
        )
    try:
        found = sessions.sign_in(_verifier(request), (form.get("token") or [""])[0])
    except InvalidToken as exc:
        return _sign_in_page(request, 401, next=target or "", error=f"That token was not accepted: {exc}.")
    response = RedirectResponse(target or sessions.HOME_OF[found.principal.role], status_code=303)
    response.set_cookie(**sessions.cookie_attributes(found, secure=_secure(request)))  # type: ignore[arg-type]
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """Ends the session here and, with an identity provider, there too (so the next sign-in asks again)."""
    if not _same_site(request):
        return RedirectResponse("/sign-in", status_code=303)
    response = RedirectResponse(await oidc.end_session_url(request) or "/sign-in", status_code=303)
    response.delete_cookie(**sessions.clearing_attributes(secure=_secure(request)))  # type: ignore[arg-type]
    response.delete_cookie(oidc.ID_COOKIE, path="/")
    return response


@router.get("/")
async def home(request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    return render(request, "home.html", session=found, pages=PAGES, title="dipflow")


@router.get("/inbox")
async def inbox(request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    return render(request, "inbox.html", session=found, title="My inbox")


async def _area_page(request: Request, template: str, title: str, area: str | None) -> Response:
    """A page about one area the person covers (chosen by ``?area=``); sign-in first when there is no session."""
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    return render(request, template, session=found, title=title, **await area_choice(request, found, area))


@router.get("/custody")
async def custody_board(request: Request, suite: str | None = None) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    return render(request, "custody.html", session=found, title="Custody suite board", suite=suite)


@router.get("/inspector")
async def inspector(request: Request, suite: str | None = None) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    return render(request, "inspector.html", session=found, title="Inspector's decisions", suite=suite)


@router.get("/team")
async def team(request: Request, area: str | None = None) -> Response:
    return await _area_page(request, "team.html", "Referral team", area)


@router.get("/police")
async def police(request: Request, area: str | None = None) -> Response:
    return await _area_page(request, "police.html", "Arrest requests", area)


@router.get("/register")
async def ppo_register(request: Request, area: str | None = None) -> Response:
    return await _area_page(request, "register.html", "PPO register", area)


@router.get("/liaison/probation")
async def probation(request: Request, area: str | None = None) -> Response:
    return await _area_page(request, "probation.html", "Breach cases and arrest requests", area)


@router.get("/liaison/court")
async def court(request: Request, area: str | None = None) -> Response:
    return await _area_page(request, "court.html", "Restriction on bail", area)


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    national = found.principal.area == NATIONAL
    return render(
        request,
        "dashboard.html",
        session=found,
        title="Measures K1\u2013K5",
        areas=covered_boroughs(found.principal, await borough_forces(request, found)),
        national=national,
    )


async def _document(
    request: Request, template: str, title: str, service: str, reads: dict[str, str], record_id: str
) -> Response:
    """A printable document for the person, from the service's answers to ``reads`` (name -> path): each read
    must answer 200, else the page shows the service's refusal in words, with its status."""
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    if not RECORD_ID.match(record_id):
        return render(request, template, 404, session=found, title=title, problem="There is no such record.")
    client: httpx.AsyncClient = request.app.state.upstream
    base = request.app.state.settings.service_urls()[service]
    headers = sessions.bearer(found.token)
    answers = {}
    try:
        for name, path in reads.items():
            answers[name] = await client.get(f"{base}{path}", headers=headers)
    except httpx.HTTPError:
        problem = f"The {service} service did not answer; try again shortly."
        return render(request, template, 502, session=found, title=title, problem=problem)
    for answer in answers.values():
        if answer.status_code != 200:
            problem = problem_text(answer, service)
            return render(request, template, answer.status_code, session=found, title=title, problem=problem)
    return render(request, template, session=found, title=title, **{k: v.json() for k, v in answers.items()})


@router.get("/assessments/{assessment_id}/notices")
async def notices(assessment_id: str, request: Request) -> Response:
    case = f"/v1/assessments/{quote(assessment_id, safe='')}"
    reads = {"case": case, "notices": f"{case}/notices"}
    return await _document(request, "notices.html", "Notices RA1\u2013RA5", "referral", reads, assessment_id)


@router.get("/custody/detentions/{detention_id}/test-record")
async def test_record(detention_id: str, request: Request) -> Response:
    reads = {"record": f"/v1/detentions/{quote(detention_id, safe='')}/test-record"}
    return await _document(
        request, "test_record.html", "Record of a drug test", "custody", reads, detention_id
    )


def problem_text(answer: httpx.Response, service: str) -> str:
    try:
        body = answer.json()
        detail = body.get("detail") or body.get("title")
    except ValueError:
        detail = None
    return f"{detail or f'The {service} service refused this.'} ({answer.status_code})"

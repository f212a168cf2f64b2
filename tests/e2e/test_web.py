"""The web pages in a real browser (Debian's headless Chromium driven by Playwright) against the whole system as
`make run` starts it: a worker signs in and sees a new assignment arrive without a reload when custody posts a
positive result, records attendance and the follow-up decision with two clicks each, and the state is checked
through the referral API; the measures dashboard draws K1 to K5 from real data and exports the tested-positive
list; the liaison pages show breach cases, arrest requests and restriction-on-bail notices.

Chromium is never downloaded: `make install` installs Debian's package. A missing browser fails the run.
Screenshots go to test-artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
from playwright.async_api import Browser, Locator, Page, Route, async_playwright, expect

from dipflow.auth import Role
from dipflow.devstack.keycloak import DEV_PASSWORD
from dipflow.devstack.paths import project_root
from dipflow.devstack.web import WEB
from dipflow.periods import Granularity, bounds, period_of
from dipflow_web.session import HOME_OF
from tests.e2e.actors import SUITE, Actors, service_clients
from tests.e2e.system import System, start_system, until

pytestmark = pytest.mark.timeout(300)
SHOTS = project_root() / "test-artifacts" / "screenshots"
LONDON = ZoneInfo("Europe/London")
AXE = project_root() / "tests" / "compose" / "node_modules" / "axe-core" / "axe.min.js"
CHARTS = (
    "k1-month",
    "k1-borough",
    "k2-month",
    "k2-borough",
    "k3-distribution",
    "k3-source",
    "k4-month",
    "k4-borough",
    "k5-month",
    "k5-suite",
)


def chromium() -> str:
    """Debian's Chromium (`make install` installs it); its absence is a failure, never a skip."""
    found = os.environ.get("DIPFLOW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium is not installed: run `make install` (apt-get install chromium) first")
    return found


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    yield from start_system(Path(tmp_path_factory.mktemp("system")) / "run", keycloak=True)


@pytest.fixture(scope="module")
def web(system: System) -> str:
    """The web app `dipflow run` started beside the services, once its /readyz answers 200."""
    url = WEB.url(system.offset)
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as client:
        while True:
            try:
                answer = client.get(f"{url}/readyz")
                if answer.status_code == 200:
                    return url
            except httpx.HTTPError:
                answer = None
            if time.monotonic() > deadline:
                raise AssertionError(f"the web app at {url} is not ready: {answer and answer.text}")
            time.sleep(0.2)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


class World(Actors):
    """Everyone who feeds the pages their data, through the services' APIs (the journeys' actors)."""

    def __init__(self, system: System, clients: dict[str, httpx.AsyncClient]) -> None:
        super().__init__(system, clients, prefix="W", person_name="Web Person")
        self.facts: dict[str, str] = {}

    async def worker(self, name: str, **extra: Any) -> tuple[str, dict[str, str]]:
        """A worker on every day of the week, so an assignment is never put off to a working day."""
        return await super().worker(name, working_weekdays=[0, 1, 2, 3, 4, 5, 6], **extra)

    async def assessment(self, did: str, ready: Any = lambda a: a["initial"]["worker_id"]) -> dict[str, Any]:
        return await super().assessment(did, ready)

    # -- data for the dashboard and the liaison pages ----------------------------------------------------------

    async def ppo_tested_positive_after_an_inspector(self) -> None:
        """K1 (a PPO's non-trigger arrest put to an inspector), K2 (a PPO arrested under BA76 s.7(3)), K4/K5
        (the test) and the tested-positive list."""
        pid = self.facts["ppo"] = self.person("PPO")
        start = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
        await self.post(
            self.ppo,
            "/v1/register",
            {
                "person_id": pid,
                "borough": "lambeth",
                "strand": "catch_and_convict",
                "start_date": start,
                "reason": "panel",
            },
            self.coordinator,
            201,
        )

        async def custody_knows() -> bool:
            return bool(
                # 403 until the register's event reaches custody: the person is not yet on its copy of the register
                (answer := await self.custody.get(f"/v1/ppo-status/{pid}", headers=self.officer)).status_code
                == 200
                and answer.json()["is_ppo"]
            )

        await until(custody_knows, "custody's copy of the register")
        did = await self.book_in(pid, "CDA1971-s1")
        await self.act(
            did,
            "inspector-decision",
            {"decision": "authorised", "rank": "inspector", "grounds": "Class A misuse suspected"},
            self.inspector,
        )
        await self.test_positive(did)
        await self.book_in(pid, "BA1976-s7")

        async def listed() -> Any:
            rows = (
                await self.ppo.get(
                    "/v1/tested-positive", params={"borough": "lambeth"}, headers=self.coordinator
                )
            ).json()
            return any(r["person_id"] == pid for r in rows)

        await until(listed, "the tested-positive list")

        async def k2_counts_the_bail_arrest() -> Any:
            rows = (
                await self.ppo.get("/v1/measures/k2", params={"borough": "lambeth"}, headers=self.coordinator)
            ).json()
            return sum(r["arrested_for_breaking_bail_condition"] for r in rows)

        await until(k2_counts_the_bail_arrest, "K2 to count the arrest under BA76 s.7(3)")

    async def failure_to_attend_then_re_arrest(self) -> None:
        """K3: an arrest request from a failure to attend, closed by the person's next booking."""
        pid = self.facts["failed"] = self.person("FTA")
        a = await self.assessment(await self.positive(pid))
        case = f"/v1/assessments/{a['assessment_id']}"
        await self.post(self.referral, f"{case}/impose", {}, self.officer)
        await self.post(self.referral, f"{case}/attendance", {"outcome": "failed_to_attend"}, self.manager)

        async def request(closed: bool) -> Any:
            rows = (
                await self.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=self.police)
            ).json()
            return next((r for r in rows if r["person_id"] == pid and (r["arrested_at"] or not closed)), None)

        await until(lambda: request(False), "the arrest request")
        await self.book_in(pid, "CDA1971-s1", arrested_ago=timedelta(0))  # arrested after the request
        await until(lambda: request(True), "the re-arrest to close the arrest request")

    async def drr_breach(self) -> None:
        pid, order = self.facts["drr"], self.facts["order"] = self.person("DRR"), f"DRR-W{self.tag}"
        await self.post(
            self.breach,
            "/v1/orders",
            {
                "person_id": pid,
                "order_id": order,
                "area": "lambeth",
                "court": "Camberwell Green",
                "start_date": "2008-01-14",
                "treatment_months": 24,
                "responsible_officer": "PO Smith",
            },
            self.liaison,
            201,
        )
        high_risk = await self.breach.post(
            f"/v1/orders/{order}/high-risk", json={"high_risk": True}, headers=self.liaison
        )
        assert high_risk.status_code == 204, high_risk.text  # D5: fast-tracked to a premium arrest request
        for on in ("2008-03-03", "2008-09-01"):
            await self.post(
                self.breach,
                f"/v1/orders/{order}/compliance",
                {"kind": "unacceptable_absence", "on": on},
                self.liaison,
            )

    async def bail_restricted(self) -> None:
        pid = self.facts["bail"] = self.person("BAIL")
        did = await self.positive(pid, charge=True)
        court = self.system.token(Role.court_liaison, "lambeth")

        async def bail_case() -> Any:
            rows = (
                await self.referral.get("/v1/bail-cases", params={"area": "lambeth"}, headers=court)
            ).json()
            return any(c["detention_id"] == did for c in rows)

        await until(bail_case, "the restriction-on-bail case")
        notice = await self.post(
            self.referral,
            f"/v1/bail-cases/{did}/agreement",
            {"agreed": False, "substantial_grounds": True},
            self.officer,
        )
        assert notice["restriction"] == "applies"


@pytest.fixture(scope="module")
async def world(system: System) -> AsyncIterator[World]:
    async with service_clients(system) as clients:
        yield World(system, clients)


@pytest.fixture(scope="module")
async def data(world: World) -> World:
    """Everything the dashboard and liaison pages show, made at once (each waits on its own events)."""
    await world.worker("data")
    await asyncio.gather(
        world.ppo_tested_positive_after_an_inspector(),
        world.failure_to_attend_then_re_arrest(),
        world.drr_breach(),
        world.bail_restricted(),
    )
    return world


# -- the browser ------------------------------------------------------------------------------------------------


class Tab:
    """One signed-in browser tab; script errors and failed page loads are collected and fail the test."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    async def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    async def no_serious_accessibility_violations(self, state: str) -> None:
        """axe-core's audit of the page as it stands: no serious or critical violation."""
        await self.page.evaluate(AXE.read_text())
        found = await self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .filter((v) => ['serious', 'critical'].includes(v.impact))
                 .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)"""
        )
        assert found == [], f"{state}: {found}"

    async def shots_at_both_sizes(self, name: str) -> None:
        """Screenshots at 1280 x 800 and at a phone's 390 x 844; nothing wider than the phone's screen."""
        await self.page.evaluate(
            "() => document.querySelectorAll('.table-wrap').forEach((t) => { t.scrollLeft = 0; })"
        )
        await self.page.set_viewport_size({"width": 1280, "height": 800})
        await self.shot(f"{name}-1280")
        await self.page.set_viewport_size({"width": 390, "height": 844})
        await self.shot(f"{name}-390")
        overflow = await self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        wide = await self.page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1
                   && !e.closest('.table-wrap'))
                 .slice(0, 5).map((e) => e.outerHTML.slice(0, 120))"""
        )
        assert overflow <= 1, f"{name} is {overflow} px wider than a phone's screen: {wide}"
        await self.page.set_viewport_size({"width": 1280, "height": 900})

    async def all_inputs_labelled(self) -> None:
        unlabelled = await self.page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter((e) => !e.labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML)"""
        )
        assert unlabelled == []


async def keyed_date(page: Page, iso: str) -> str:
    """The keys that type ``iso`` into this browser's date fields, whose order of day, month and year follows
    the browser's own locale (found by typing a date into a scratch field of a blank page)."""
    scratch = await page.context.new_page()
    await scratch.set_content('<input type="date" aria-label="scratch">')
    await scratch.get_by_label("scratch").focus()
    await scratch.keyboard.type("01142008")
    month_first = await scratch.get_by_label("scratch").input_value() == "2008-01-14"
    await scratch.close()
    year, month, day = iso.split("-")
    return f"{month}{day}{year}" if month_first else f"{day}{month}{year}"


async def by_keyboard(page: Page, first: Locator, values: list[str | date]) -> None:
    """Complete a form by keyboard alone from its ``first`` field: type each value (a date in the browser's own
    order of its parts, then a second Tab past the field's calendar button; "" keeps what a field holds), Tab to
    the next field, and Enter on the last to send the form."""
    await first.focus()
    for n, value in enumerate(values):
        last = n == len(values) - 1
        if isinstance(value, date):
            await page.keyboard.type(await keyed_date(page, value.isoformat()))
            if not last:
                await page.keyboard.press("Tab")
        else:
            await page.keyboard.type(value)
        await page.keyboard.press("Enter" if last else "Tab")


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def sign_in(browser: Browser, web: str, token: str, path: str) -> Tab:
    context = await browser.new_context(
        base_url=web,
        viewport={"width": 1280, "height": 900},
        timezone_id="Europe/London",
        locale="en-GB",
        accept_downloads=True,
    )
    tab = Tab(await context.new_page())
    await tab.page.goto(path)
    await expect(tab.page).to_have_url(f"{web}/sign-in?next={quote(path, safe='')}")
    await tab.page.get_by_label("Access token").fill(token)
    await tab.page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(tab.page).to_have_url(f"{web}{path}")
    return tab


async def sign_in_with_keycloak(browser: Browser, web: str, username: str, path: str) -> Tab:
    """Sign in the way people do: the provider's own login form (Keycloak, authorization code with PKCE)."""
    context = await browser.new_context(
        base_url=web, viewport={"width": 1280, "height": 900}, timezone_id="Europe/London", locale="en-GB"
    )
    tab = Tab(await context.new_page())
    await tab.page.goto(path)
    await tab.page.get_by_role("button", name="Sign in with your organisation account").click()
    await expect(tab.page.locator("#kc-form-login")).to_be_visible()
    await tab.page.locator("#username").fill(username)
    await tab.page.locator("#password").fill(DEV_PASSWORD)
    await tab.page.locator("#kc-login").click()
    await expect(tab.page).to_have_url(f"{web}{path}")
    return tab


async def test_a_worker_sees_a_new_assignment_arrive_live_and_records_attendance_in_two_clicks(
    world: World, browser: Browser, web: str
) -> None:
    worker_id, me = await world.worker("live")
    tab = await sign_in(browser, web, bearer(me), "/inbox")
    page = tab.page
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "on")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "dipflow_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == ""  # page scripts never see the token
    await page.evaluate("window.sameDocument = true")
    await tab.all_inputs_labelled()
    await tab.shot("inbox-1-waiting")

    pid = world.person("LIVE")
    await world.positive(pid)  # custody posts the journey: book-in, warning, sample, positive result
    card = page.locator("li.card", has_text=pid)
    await expect(card).to_be_visible(timeout=30_000)
    assert await page.evaluate("window.sameDocument === true"), "the page was reloaded"
    await expect(card.locator(".badge")).to_have_text("New")
    await expect(page.locator("#announcer")).to_contain_text("New assignment: initial assessment")
    await tab.shot("inbox-2-new-assignment")
    await tab.shots_at_both_sizes("inbox")

    key = await card.get_attribute("data-key")
    assert key is not None
    assessment_id = key.split(":")[0]
    case = f"/v1/assessments/{assessment_id}"
    await world.post(world.referral, f"{case}/impose", {"place": "Brixton DIP office"}, world.officer)  # RA1
    await page.get_by_role("button", name="Refresh list").click()
    await card.get_by_role("button", name="Attended", exact=True).click()  # click 1: choose
    await card.get_by_role("button", name="Confirm: attended").click()  # click 2: confirm
    await expect(page.locator("#announcer")).to_contain_text("Attendance recorded: attended")
    state = (await world.referral.get(case, headers=me)).json()
    assert state["status"] == "initial_attended" and state["initial"]["worker_id"] == worker_id
    await tab.shot("inbox-3-attended")
    await tab.no_serious_accessibility_violations("the inbox")

    # The follow-up decision by keyboard alone: Enter on the choice, then Enter on the focused confirm button.
    await card.get_by_role("button", name="No follow-up needed (RA5)").focus()
    await page.keyboard.press("Enter")
    await expect(card.get_by_role("button", name="Confirm: no follow-up")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#announcer")).to_contain_text("No follow-up needed; RA5 served.")
    await expect(card).to_have_count(0)  # completed: it leaves the inbox
    state = (await world.referral.get(case, headers=me)).json()
    assert state["status"] == "completed"
    forms = [n["form"] for n in (await world.referral.get(f"{case}/notices", headers=me)).json()]
    assert forms == ["RA1", "RA3", "RA5"]

    await page.goto(f"/assessments/{assessment_id}/notices")
    await expect(page.get_by_role("heading", level=2)).to_have_count(3)
    await expect(page.get_by_role("button", name="Print notices")).to_be_visible()
    await tab.shot("notices-printable")
    await tab.no_serious_accessibility_violations("the printable notices")
    assert tab.errors == []


async def test_the_dashboard_draws_k1_to_k5_and_exports_the_tested_positive_list(
    data: World, browser: Browser, web: str
) -> None:
    tab = await sign_in(browser, web, bearer(data.system.token(Role.admin, "*")), "/dashboard")
    page = tab.page
    await page.goto("/dashboard?borough=lambeth")
    await expect(page.locator("body")).to_have_attribute("data-dashboard-loaded", "true", timeout=30_000)
    points = await page.evaluate(
        """(ids) => Object.fromEntries(ids.map((id) => {
             const chart = window.Chart.getChart(document.getElementById(id));
             return [id, chart ? chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v > 0).length, 0) : -1];
           }))""",
        list(CHARTS),
    )
    assert all(n > 0 for n in points.values()), points
    for chart in CHARTS:
        box = await page.locator(f"#{chart}").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100, chart
    await expect(page.locator("#k2 table").first).to_contain_text("1")  # each chart's numbers as a table
    for measure, header in (
        ("K1", "period,borough,ppos_considered"),
        ("K3", "period,source,borough"),
        ("K5", "period,suite"),
    ):
        files = await page.get_by_role("link", name=f"{measure} as CSV").get_attribute("href")
        answer = await page.request.get(files or "")
        assert answer.status == 200 and (await answer.text()).startswith(header), (
            measure,
            await answer.text(),
        )
        xlsx = await page.get_by_role("link", name=f"{measure} as XLSX").get_attribute("href")
        assert (
            (await page.request.get(xlsx or "")).headers["content-type"].startswith("application/vnd.openxml")
        )
    # By quarter of the financial year: the same charts, labelled by quarter
    await page.goto("/dashboard?borough=lambeth&per=quarter")
    await expect(page.locator("body")).to_have_attribute("data-dashboard-loaded", "true", timeout=30_000)
    quarter = period_of(datetime.now(LONDON).date(), Granularity.quarter)
    labels = await page.evaluate(
        "() => window.Chart.getChart(document.getElementById('k1-month')).data.labels"
    )
    assert quarter in labels and all(" Q" in label for label in labels), labels
    await expect(page.get_by_label("By", exact=True)).to_have_value("quarter")
    await page.goto("/dashboard?borough=lambeth")
    await expect(page.locator("body")).to_have_attribute("data-dashboard-loaded", "true", timeout=30_000)
    # Admins read no individual's test results (T13): the page says the list is not theirs to see.
    await expect(page.locator("#tested-positive .panel-state")).to_contain_text("may not see")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("dashboard")
    await tab.no_serious_accessibility_violations("the dashboard")

    # The PPO coordinator of the borough reads the tested-positive list (for supervision) and exports it.
    coordinator = await sign_in(browser, web, bearer(data.coordinator), "/dashboard")
    listing = coordinator.page
    await listing.goto("/dashboard?borough=lambeth")
    await expect(listing.locator("body")).to_have_attribute("data-dashboard-loaded", "true", timeout=30_000)
    tested = listing.locator("#tp-table table")
    await expect(tested).to_contain_text(data.facts["ppo"])
    await expect(tested).to_contain_text("cocaine")
    link = listing.get_by_role("link", name="Download as CSV")
    exported = await listing.request.get(await link.get_attribute("href") or "")
    assert exported.status == 200 and exported.headers["content-type"].startswith("text/csv")
    assert data.facts["ppo"] in await exported.text()
    async with listing.expect_download() as download:
        await link.click()
    saved = await (await download.value).path()
    assert (await (await download.value).failure()) is None
    assert (await asyncio.to_thread(Path(saved).read_text)).startswith("person_id,borough,strand")

    # An analyst sees the measures, but the services do not give analysts the list of people: the page says so.
    analyst = await sign_in(browser, web, bearer(data.system.token(Role.analyst, "*")), "/dashboard")
    await expect(analyst.page.locator("body")).to_have_attribute(
        "data-dashboard-loaded", "true", timeout=30_000
    )
    await expect(analyst.page.locator("#tested-positive .panel-state")).to_contain_text("may not see")
    await expect(analyst.page.locator("#k4-month")).to_have_attribute("data-rendered", "true")
    assert [e for e in tab.errors if "403" not in e] == [] and [
        e for e in analyst.errors if "403" not in e
    ] == []
    assert [e for e in coordinator.errors if "403" not in e] == []


async def test_liaison_pages_show_breach_cases_arrest_requests_and_bail_notices(
    data: World, browser: Browser, web: str
) -> None:
    tab = await sign_in(browser, web, bearer(data.liaison), "/liaison/probation")
    page = tab.page
    for view in ("breach-cases", "arrest-requests"):
        await expect(page.locator(f"[data-view={view}]")).to_have_attribute("data-loaded", "true")
    cases = page.locator("#cases table")
    await expect(cases.locator("tr", has_text=data.facts["order"])).to_contain_text("D")  # rule ids
    await expect(cases.locator("thead")).to_contain_text("Enforcement due")
    await expect(cases.locator("thead")).to_contain_text("First hearing due")
    # the 2008 breach's due dates passed long ago: the page shows probation liaison's alerts with their count
    await expect(page.locator("#alerts")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#alerts .alerts-list")).to_contain_text("Breach case step overdue")
    assert int(await page.locator("#alerts [data-count]").inner_text()) >= 2
    arrests = page.locator("#arrests table")
    await expect(arrests.locator("tr", has_text=data.facts["failed"])).to_contain_text("Arrested")
    await expect(arrests.locator("tr", has_text=data.facts["drr"])).to_contain_text("Premium")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("liaison-probation")
    await tab.no_serious_accessibility_violations("the probation liaison page")
    # D4 recorded from the page, checked through the breach API
    case_row = cases.locator("tr", has_text=data.facts["order"])
    await case_row.get_by_label("Enforcement action").select_option("summons")

    async def slow_reload(route: Route) -> None:  # the page reloading its cases slowly, as on a busy day
        await asyncio.sleep(0.5)
        await route.continue_()

    # the outcome is announced once the page shows the new forms: the hearing typed next is not replaced
    await page.route(re.compile(r"/v1/breach-cases\?"), slow_reload)
    await case_row.get_by_role("button", name="Record enforcement").click()
    await expect(page.locator("#announcer")).to_contain_text("Enforcement (summons) recorded")
    assert await case_row.get_by_label("Enforcement action").count() == 0  # already the page after it
    await case_row.get_by_label("First hearing held on").fill("2008-09-20")
    await case_row.get_by_role("button", name="Record the hearing").click()
    await expect(page.locator("#announcer")).to_contain_text("The first hearing on")
    recorded = (
        await data.breach.get("/v1/breach-cases", params={"area": "lambeth"}, headers=data.liaison)
    ).json()
    case = next(c for c in recorded if c["order_id"] == data.facts["order"])
    assert (case["enforcement"], case["hearing_on"]) == ("summons", "2008-09-20")

    court = await sign_in(
        browser, web, bearer(data.system.token(Role.court_liaison, "lambeth")), "/liaison/court"
    )
    await expect(court.page.locator("[data-view=bail-cases]")).to_have_attribute("data-loaded", "true")
    row = court.page.locator("#bail table tr", has_text=data.facts["bail"])
    await expect(row).to_contain_text("Applies")
    await expect(row).to_contain_text("B1")
    # readable at 1280 px: the reasons get room, the page does not grow thousands of pixels tall
    reasons = await row.locator("td.wide").first.bounding_box()
    assert reasons is not None and reasons["width"] >= 250, reasons
    height = await court.page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2500, f"the court liaison page is {height} px tall at 1280 px"
    await court.no_serious_accessibility_violations("the court liaison page")
    # the court's decision recorded from the page (B2), checked through the referral API
    # recorded by keyboard alone: the decision chosen by typing, the court, the date kept as today, Enter
    await by_keyboard(
        court.page, row.get_by_label("Decision", exact=True), ["bail r", "Camberwell Green Magistrates", ""]
    )
    await expect(court.page.locator("#announcer")).to_contain_text("decision for")
    cases = (await data.referral.get("/v1/bail-cases", params={"area": "lambeth"}, headers=data.court)).json()
    decided = next(c for c in cases if c["person_id"] == data.facts["bail"])
    assert (decided["outcome"], decided["court"]) == ("bail_refused", "Camberwell Green Magistrates")
    await expect(court.page.locator("#bail table tr", has_text=data.facts["bail"])).to_contain_text(
        "bail refused"
    )

    # Someone who agreed is bailed with the assessment condition (B3), then breaks it (B4), both from the page.
    agreed = data.person("AGREED")
    did = await data.positive(agreed, charge=True)

    async def bail_case() -> Any:
        rows = (
            await data.referral.get("/v1/bail-cases", params={"area": "lambeth"}, headers=data.court)
        ).json()
        return any(c["detention_id"] == did for c in rows)

    await until(bail_case, "the second restriction-on-bail case")
    await data.post(data.referral, f"/v1/bail-cases/{did}/agreement", {"agreed": True}, data.officer)
    await court.page.reload()
    row = court.page.locator("#bail table tr", has_text=agreed)
    await row.get_by_label("Decision", exact=True).select_option("bail_with_assessment_condition")
    await row.get_by_label("Court", exact=True).fill("Camberwell Green Magistrates")
    await row.get_by_role("button", name="Record the decision").click()
    await expect(row).to_contain_text("not yet recorded")  # the condition's appointment, attendance to come
    await row.get_by_label("What was broken, and how").fill("did not attend the assessment on the date set")
    await row.get_by_role("button", name="Record the breach").click()
    await expect(court.page.locator("#announcer")).to_contain_text(f"The breach of {agreed}'s condition")
    cases = (await data.referral.get("/v1/bail-cases", params={"area": "lambeth"}, headers=data.court)).json()
    broken = next(c for c in cases if c["detention_id"] == did)
    assert broken["outcome"] == "bail_with_assessment_condition" and broken["condition_appointment_at"]
    assert broken["breached_at"] and broken["breach_what"].startswith("did not attend")
    await court.no_serious_accessibility_violations("the court liaison page after a breach")
    await court.shots_at_both_sizes("liaison-court")
    assert tab.errors == [] and court.errors == []


async def test_a_custody_officer_books_in_tests_and_releases_from_the_board_told_of_RA1_to_serve(
    world: World, browser: Browser, web: str
) -> None:
    pid = world.person("BOARD")
    board = f"/custody?suite={SUITE}"
    tab = await sign_in_with_keycloak(browser, web, "custody-officer", board)
    other = await sign_in(
        browser, web, bearer(world.system.token(Role.custody_officer, "metropolitan")), board
    )
    page = tab.page
    await expect(page.locator("body[data-board-loaded]")).to_be_attached()
    await tab.no_serious_accessibility_violations("the board")
    await tab.all_inputs_labelled()

    booking: list[str | date] = [pid, "Board Person", date(1980, 2, 3), "lambeth", "TA1968-s1"]
    await by_keyboard(page, page.get_by_label("Person id (PNC)"), booking)  # booked in by keyboard alone
    await expect(page.locator("#announcer")).to_contain_text("Board Person booked in: required")
    row = page.locator("tbody tr", has_text=pid)
    await row.get_by_role("button", name="Warning given").click()
    await expect(row).to_contain_text(" min left")  # the time limit to take the sample, counting down (T10)
    # the other officer's board shows it without a reload (it polls)
    await expect(
        other.page.locator("tbody tr", has_text=pid).get_by_role("button", name="Sample taken")
    ).to_be_visible(timeout=15_000)
    await row.get_by_role("button", name="Sample taken").click()
    await expect(row).to_contain_text("record the result of the sample (T12)")
    await row.get_by_label("Drug").select_option("cocaine")
    await row.get_by_label("Result", exact=True).select_option("positive")
    await row.get_by_role("button", name="Record result").click()
    await expect(row).to_contain_text("RA1 to serve", timeout=20_000)  # custody learnt referral's proposal
    await tab.no_serious_accessibility_violations("the board with RA1 to serve")
    await tab.shots_at_both_sizes("custody-board")

    # The record of the test for the person, printable (DT1-style), opened from the board in a second tab.
    href = await row.get_by_role("link", name="Test record for Board Person").get_attribute("href")
    record = Tab(await page.context.new_page())
    await record.page.goto(href or "")
    document = record.page.locator("article")
    await expect(document.get_by_role("heading", level=1)).to_have_text(
        "Record of a drug test in police custody"
    )
    why = document.locator("h2:has-text('Why a sample was asked for') + p")
    await expect(why).to_contain_text(
        "T1"
    )  # the decision it was taken under, not today's "no further sample"
    await expect(why).not_to_contain_text("T8")
    for fact in ("Board Person", "Sun 03 Feb 1980", pid, "cocaine", "positive", "T11", "initial assessment"):
        await expect(document).to_contain_text(fact)
    await expect(record.page.get_by_role("button", name="Print the record")).to_be_visible()
    await expect(record.page.locator("#alerts")).to_have_count(
        0
    )  # a document for the person: no alerts on it
    await record.no_serious_accessibility_violations("the test record")
    await record.shots_at_both_sizes("custody-test-record")
    assert record.errors == []
    await record.page.close()

    await row.get_by_role("button", name="Release").click()
    await expect(page.locator("#problem")).to_contain_text("rule A1")
    on_board = (await world.custody.get(f"/v1/suites/{SUITE}/board", headers=world.officer)).json()
    detention_id = next(
        r["detention"]["detention_id"] for r in on_board if r["detention"]["person_id"] == pid
    )
    assert (await world.custody.get(f"/v1/detentions/{detention_id}", headers=world.officer)).json()[
        "released_at"
    ] is None
    await row.get_by_label("I confirm the required assessment lapses (A1)").check()
    await row.get_by_role("button", name="Release").click()
    await expect(page.locator("#announcer")).to_contain_text("Released for Board Person")
    await expect(page.locator("tbody tr", has_text=pid)).to_have_count(0)
    released = (await world.custody.get(f"/v1/detentions/{detention_id}", headers=world.officer)).json()
    assert released["released_at"] is not None
    await world.assessment(detention_id, lambda a: a["status"] == "lapsed")
    # the one refused release, as the network and the console report it, and nothing else
    assert [e for e in tab.errors if not e.startswith("console:")] == [
        f"409 {web}/api/custody/v1/detentions/{detention_id}/release"
    ]
    assert [e for e in tab.errors if e.startswith("console:") and "409" not in e] == []
    assert other.errors == []


async def test_an_inspector_decides_a_ppo_test_orally_then_confirms_it_in_writing_from_the_page(
    world: World, browser: Browser, web: str
) -> None:
    pid = world.person("INSP")
    start = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    body = {
        "person_id": pid,
        "borough": "lambeth",
        "strand": "catch_and_convict",
        "start_date": start,
        "reason": "panel",
    }
    await world.post(world.ppo, "/v1/register", body, world.coordinator, 201)

    async def custody_knows() -> bool:
        answer = await world.custody.get(f"/v1/ppo-status/{pid}", headers=world.officer)
        return answer.status_code == 200 and bool(answer.json()["is_ppo"])

    await until(custody_knows, "custody's copy of the register")
    did = await world.book_in(pid, "CDA1971-s1")  # not a trigger offence: an inspector decides (T4)
    tab = await sign_in_with_keycloak(browser, web, "inspector", f"/inspector?suite={SUITE}")
    page = tab.page
    card = page.locator(".card", has_text=pid)
    await expect(card).to_be_visible()
    # the facts to decide on: the offence in full, the times, whether an appropriate adult is needed
    await expect(card.locator("dl.facts")).to_contain_text("criminal damage: Criminal Damage Act 1971 s.1")
    await expect(card.locator("dl.facts")).to_contain_text("Appropriate adult")
    await tab.no_serious_accessibility_violations("the inspector's page")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("inspector")
    # Decided by keyboard alone: the chosen radio, ArrowDown for the rank, the grounds, Space for "oral", Enter.
    await card.get_by_label("Authorise the test").focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("ArrowDown")  # inspector -> chief inspector
    await page.keyboard.press("Tab")
    await page.keyboard.type("Class A misuse suspected from what was found")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await expect(card.get_by_role("button", name="Record the decision")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#announcer")).to_contain_text(f"Test authorised for {pid}")
    oral = page.locator("#oral .card", has_text=pid)
    await oral.get_by_role("button", name="Confirm in writing").click()
    await expect(page.locator("#announcer")).to_contain_text(f"Confirmed in writing for {pid}")
    view = (await world.custody.get(f"/v1/detentions/{did}", headers=world.inspector)).json()
    assert (view["authorisation"]["decision"], view["authorisation"]["rank"]) == (
        "authorised",
        "chief_inspector",
    )
    assert view["authorisation"]["oral"] and view["authorisation"]["written_confirmation"] == "confirmed"
    assert tab.errors == []


ROLE_USERS = {role: str(role).replace("_", "-") for role in Role}
"""The development realm's user for each role (deploy/local/keycloak/dipflow-realm.json)."""


async def test_every_role_signs_in_through_the_identity_providers_form_and_sign_out_ends_that_session(
    world: World, browser: Browser, web: str
) -> None:
    for role, username in ROLE_USERS.items():
        home = HOME_OF[role]
        tab = await sign_in_with_keycloak(browser, web, username, home)
        await expect(tab.page.locator(".who")).to_contain_text(str(role).replace("_", " "))
        await expect(tab.page.locator(".who strong")).to_have_text(
            f"{username.split('-')[0].capitalize()} Dev"
        )
        # the session carries the provider's token, which the services verify through its JWKS
        areas = await tab.page.request.get(f"{web}/api/custody/v1/areas")
        assert areas.status == 200, (role, await areas.text())
        if role is Role.custody_officer:
            await tab.no_serious_accessibility_violations("the custody board after signing in")
            await tab.page.get_by_role("button", name="Sign out").click()
            await expect(tab.page).to_have_url(f"{web}/sign-in")
            await tab.page.goto(home)  # signed out here, and at the provider: its form again, not a session
            await expect(tab.page).to_have_url(re.compile(r"/sign-in\?next="))
            await tab.page.get_by_role("button", name="Sign in with your organisation account").click()
            await expect(tab.page.locator("#kc-form-login")).to_be_visible()
        # a measure the role may not see is a 403 the page shows as a message; nothing else fails
        assert [e for e in tab.errors if "403" not in e] == [], (role, tab.errors)
        await tab.page.context.close()


async def test_the_sign_in_page_offers_the_provider_and_tokens_only_in_development_and_passes_its_audit(
    browser: Browser, web: str
) -> None:
    context = await browser.new_context(base_url=web)
    tab = Tab(await context.new_page())
    await tab.page.goto("/sign-in")
    await expect(
        tab.page.get_by_role("button", name="Sign in with your organisation account")
    ).to_be_visible()
    await expect(tab.page.get_by_label("Access token")).to_be_visible()  # `dipflow run` is development
    await tab.no_serious_accessibility_violations("the sign-in page")
    await tab.page.goto("/auth/callback?code=forged&state=forged")  # not a sign-in this browser started
    await expect(tab.page.locator(".problem")).to_contain_text("did not come back as it was sent")
    await context.close()


async def test_a_referral_manager_runs_the_team_leave_queues_an_appointment_and_a_new_worker_takes_it(
    world: World, browser: Browser, web: str
) -> None:
    admin = world.system.token(Role.admin, "*")
    suite = f"MET-S{world.tag}"  # a lambeth suite of this test's own, so only its workers cover it
    place = {"code": suite, "name": "Streatham custody", "force": "metropolitan", "borough": "lambeth"}
    await world.post(world.custody, "/v1/suites", place, admin, 201)
    notice = {"place": suite, "kind": "testing_on_arrest", "valid_from": "2000-01-01"}
    await world.post(world.custody, "/v1/notifications", notice, admin, 201)
    first = f"W-{world.tag}-A"
    body = {"worker_id": first, "name": "Ada", "area": "lambeth", "suites": [suite], "daily_capacity": 4}

    async def first_worker_added() -> bool:  # 422 until referral's copy of the reference data knows the suite
        answer = await world.referral.post(
            "/v1/workers", json={**body, "working_weekdays": list(range(7))}, headers=world.manager
        )
        return answer.status_code == 201

    await until(first_worker_added, "referral to know the new suite")
    pid = world.person("TEAM")
    now = datetime.now(UTC)
    booking = {
        "person_id": pid,
        "name": "Team Person",
        "date_of_birth": "1975-05-05",
        "home_area": "lambeth",
        "suite": suite,
        "arrested_at": (now - timedelta(minutes=30)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": now.date().isoformat()}],
    }
    did = (await world.post(world.custody, "/v1/detentions", booking, world.officer, 201))["detention_id"]
    await world.test_positive(did)
    assessment = await world.assessment(did, lambda a: a["initial"] and a["initial"]["worker_id"] == first)
    day = datetime.fromisoformat(assessment["initial"]["at"]).astimezone(LONDON).date().isoformat()

    tab = await sign_in_with_keycloak(browser, web, "referral-manager", "/team?area=lambeth")
    page = tab.page
    await expect(page.locator("body[data-team-loaded]")).to_be_attached()
    row = page.locator("#workers tbody tr", has_text=first)
    leave = date.fromisoformat(day)
    await by_keyboard(page, row.get_by_label("Away from"), [leave, leave])  # leave recorded by keyboard alone
    await expect(page.locator("#announcer")).to_contain_text(
        "0 appointment(s) moved to colleagues, 1 waiting"
    )
    queued = page.locator("#queue tbody tr", has_text=suite)
    await expect(queued).to_be_visible()
    await queued.get_by_label("Worker").select_option(first)
    await queued.get_by_role("button", name="Assign").click()  # Ada is away that day
    await expect(page.locator("#problem")).to_contain_text("rule A9")
    waiting = (
        await world.referral.get("/v1/unassigned", params={"area": "lambeth"}, headers=world.manager)
    ).json()
    assert [q["assessment_id"] for q in waiting if q["suite"] == suite] == [assessment["assessment_id"]]

    await page.get_by_label("Address (URL)").fill("http://127.0.0.1:9/team-hook")
    await page.get_by_label("Shared secret (16 characters or more)").fill("team-secret-0123456789")
    await page.get_by_role("button", name="Save the webhook").click()
    await expect(page.locator("#announcer")).to_contain_text("The team's webhook in lambeth is saved")

    second = f"W-{world.tag}-B"
    await page.get_by_label("Worker id").fill(second)
    await page.get_by_label("Name", exact=True).fill("Bea")
    await page.get_by_label("Custody suites covered").fill(suite)
    for day_box in ("Saturday", "Sunday"):
        await page.get_by_label(day_box).check()
    await page.get_by_role("button", name="Save the worker").click()
    await expect(page.locator("#announcer")).to_contain_text("Bea is saved as a worker in lambeth")
    await expect(page.locator("#queue")).to_contain_text("No appointment in lambeth waits for a worker")
    await world.assessment(did, lambda a: a["initial"]["worker_id"] == second)  # the queue was given out (A9)
    deliveries = (
        await world.referral.get("/v1/teams/lambeth/webhook-deliveries", headers=world.manager)
    ).json()
    assert any(d["body"]["worker_id"] == second for d in deliveries), deliveries  # the team was told
    await expect(page.locator("#workers")).to_contain_text(second)
    await tab.no_serious_accessibility_violations("the referral team page")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("team")
    assert [e for e in tab.errors if not e.startswith("console:")] == [
        f"409 {web}/api/referral/v1/assessments/{assessment['assessment_id']}/assign"
    ]


async def test_police_enforcement_sees_arrest_requests_premium_first_and_acknowledges_one(
    world: World, browser: Browser, web: str
) -> None:
    await world.worker("police")  # someone to assess the people whose failure to attend is requested
    premium_person, order = world.person("POL-P"), f"DRR-P{world.tag}"
    made = {
        "person_id": premium_person,
        "order_id": order,
        "area": "lambeth",
        "court": "Camberwell Green",
        "start_date": "2008-01-14",
        "treatment_months": 24,
        "responsible_officer": "PO Jones",
    }
    await world.post(world.breach, "/v1/orders", made, world.liaison, 201)
    high_risk = await world.breach.post(
        f"/v1/orders/{order}/high-risk", json={"high_risk": True}, headers=world.liaison
    )
    assert high_risk.status_code == 204, high_risk.text
    for on in ("2008-03-03", "2008-09-01"):  # a warning, then the breach: a premium request (D5)
        absence = {"kind": "unacceptable_absence", "on": on}
        await world.post(world.breach, f"/v1/orders/{order}/compliance", absence, world.liaison)
    standard_person = world.person("POL-S")
    case = await world.assessment(await world.positive(standard_person))
    url = f"/v1/assessments/{case['assessment_id']}"
    await world.post(world.referral, f"{url}/impose", {}, world.officer)
    await world.post(world.referral, f"{url}/attendance", {"outcome": "failed_to_attend"}, world.manager)

    async def both_requested() -> Any:
        rows = (
            await world.breach.get("/v1/arrest-requests", params={"area": "lambeth"}, headers=world.police)
        ).json()
        mine = {r["person_id"]: r for r in rows if r["person_id"] in (premium_person, standard_person)}
        return mine if len(mine) == 2 else None

    requests = await until(both_requested, "both arrest requests")
    assert requests[premium_person]["premium"] and not requests[standard_person]["premium"]

    tab = await sign_in_with_keycloak(browser, web, "police-enforcement", "/police?area=lambeth")
    page = tab.page
    await expect(page.locator("body[data-police-loaded]")).to_be_attached()
    order_shown = await page.locator("#open tbody tr th").all_inner_texts()
    assert order_shown.index(premium_person) < order_shown.index(standard_person)  # premium first
    premium_flags = ["Premium" in t for t in await page.locator("#open tbody tr").all_inner_texts()]
    assert premium_flags == sorted(premium_flags, reverse=True)  # every premium request above every other
    premium_row = page.locator("#open tbody tr", has_text=premium_person)
    await expect(premium_row).to_contain_text("Premium")
    await expect(premium_row).to_contain_text("D5")
    header = page.locator("[data-header-count] span")
    await expect(page.locator("#alerts")).to_have_attribute("data-loaded", "true")
    waiting = int(await header.inner_text())
    assert waiting >= 2 and await page.locator("#alerts [data-count]").inner_text() == str(waiting)
    # acknowledged by keyboard alone: the button focused, then Enter
    await premium_row.get_by_role(
        "button", name=f"Acknowledge the request to arrest {premium_person}"
    ).focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#announcer")).to_contain_text(
        f"You acknowledged the request to arrest {premium_person}"
    )
    await expect(premium_row).to_contain_text("Acknowledged by")
    await expect(header).to_have_text(str(waiting - 1))  # the header's count follows, without a reload
    await expect(page.locator("#alerts [data-acknowledged]")).to_contain_text(
        "acknowledged, not yet resolved"
    )
    await page.evaluate("window.sameDocument = true")

    # A new arrest request raised while the page is open reaches the header and is announced, live.
    late_person = world.person("POL-L")
    late = await world.assessment(await world.positive(late_person))
    late_url = f"/v1/assessments/{late['assessment_id']}"
    await world.post(world.referral, f"{late_url}/impose", {}, world.officer)
    await world.post(world.referral, f"{late_url}/attendance", {"outcome": "failed_to_attend"}, world.manager)
    await expect(header).to_have_text(str(waiting), timeout=45_000)
    await expect(page.locator("#alerts .alerts-list")).to_contain_text(late_person)
    await expect(page.locator("#alerts [data-alerts-news]")).to_have_text("New alert: Arrest request.")
    await expect(page.locator("#announcer")).to_contain_text(  # what the officer's own action said stays
        f"You acknowledged the request to arrest {premium_person}"
    )
    assert await page.evaluate("window.sameDocument === true"), "the page was reloaded"
    feed = (
        await world.breach.get(
            "/v1/alerts", params={"area": "lambeth", "state": "acknowledged"}, headers=world.police
        )
    ).json()["items"]
    acknowledged = [a for a in feed if a["case_id"] == requests[premium_person]["request_id"]]
    assert len(acknowledged) == 1 and acknowledged[0]["acknowledged_by"], feed
    await tab.no_serious_accessibility_violations("the police enforcement page")
    await tab.shots_at_both_sizes("police")

    # A borough this officer does not cover: the service's refusal, in words, never another borough's list.
    await page.goto("/police?area=camden")
    await expect(page.locator("#open-state")).to_contain_text("Your role may not see the arrest requests")
    await expect(page.locator("#open-state")).to_contain_text("(403)")
    await expect(page.locator("#open tbody tr")).to_have_count(0)
    assert await page.locator("#area").input_value() == "camden"
    assert [e for e in tab.errors if "403" not in e] == []


async def test_a_ppo_coordinator_keeps_the_register_and_imports_a_list_seeing_each_bad_rows_line(
    world: World, browser: Browser, web: str
) -> None:
    added, listed, bad = world.person("REG-A"), world.person("REG-L"), world.person("REG-B")
    tab = await sign_in_with_keycloak(browser, web, "ppo-coordinator", "/register?area=lambeth")
    page = tab.page
    await expect(page.locator("body[data-register-loaded]")).to_be_attached()
    # put on the register by keyboard alone (the strand chosen by typing its first letters)
    person: list[str | date] = [added, "prevent", date(2026, 11, 2), "November panel"]
    await by_keyboard(page, page.get_by_label("Person id (PNC)", exact=True), person)
    await expect(page.locator("#announcer")).to_contain_text(f"{added} is on the register in lambeth")
    row = page.locator("#register tbody tr", has_text=added)
    await expect(row).to_contain_text("prevent and deter")

    csv = (
        "person_id,borough,strand,start_date,end_date,reason\n"
        f"{listed},lambeth,Catch & Convict,2026-10-05,,October panel\n"
        f"{bad},lambeth,not a strand,2026-10-05,,October panel\n"
    )
    await page.get_by_label("The list", exact=True).fill(csv)
    await page.get_by_role("button", name="Import", exact=True).click()
    errors = page.locator("#import-errors table")
    await expect(errors).to_contain_text("strand")
    lines = await errors.locator("tbody th").all_inner_texts()
    assert lines == ["3"], lines  # the bad row's own line in the file (the header is line 1)
    on_register = (
        await world.ppo.get("/v1/register", params={"borough": "lambeth"}, headers=world.coordinator)
    ).json()
    assert listed not in {p["person_id"] for p in on_register}  # nothing imported from a file with a bad row
    await page.get_by_role("button", name="Import the good rows").click()
    await expect(page.locator("#announcer")).to_contain_text("1 added")
    await expect(page.locator("#register tbody tr", has_text=listed)).to_contain_text("catch and convict")
    on_register = (
        await world.ppo.get("/v1/register", params={"borough": "lambeth"}, headers=world.coordinator)
    ).json()
    assert {added, listed} <= {p["person_id"] for p in on_register} and bad not in str(on_register)

    await row.get_by_label("Off the register from").fill("2026-11-20")
    await row.get_by_label("Why").fill("deselected at the panel")
    await row.get_by_role("button", name="Take off").click()
    await expect(page.locator("#announcer")).to_contain_text(f"{added} is off the register")
    history = (await world.ppo.get(f"/v1/register/{added}/history", headers=world.coordinator)).json()
    assert [(p["end_date"], p["end_reason"]) for p in history] == [("2026-11-20", "deselected at the panel")]
    # P3: three positive tests and a failed assessment flag a non-PPO for the panel; the page shows the evidence
    # in words and records the panel's decision, checked through the API.
    await world.worker("register")
    flagged = world.person("REG-P3")
    detentions = []
    for n in range(3):
        did = await world.book_in(flagged, arrested_ago=timedelta(minutes=30) if n == 0 else timedelta(0))
        await world.test_positive(did)
        detentions.append(did)
        if n == 0:
            case = f"/v1/assessments/{(await world.assessment(did))['assessment_id']}"
            await world.post(world.referral, f"{case}/impose", {}, world.officer)
            await world.post(
                world.referral, f"{case}/attendance", {"outcome": "failed_to_attend"}, world.manager
            )

            async def custody_knows_ra1_served(did: str = did) -> bool:  # custody's copy of referral's (A1)
                view = await world.custody.get(f"/v1/detentions/{did}", headers=world.officer)
                return bool(view.json()["ra1_to_serve"] == [])

            await until(custody_knows_ra1_served, "custody to learn that RA1 was served")
            await world.act(did, "release", {"release": "police_bail"})
        else:
            await world.act(did, "release", {"release": "no_further_action", "lapse_confirmed": True})

    async def flag_raised() -> Any:
        rows = (
            await world.ppo.get("/v1/panel-flags", params={"borough": "lambeth"}, headers=world.coordinator)
        ).json()
        return next((f for f in rows if f["person_id"] == flagged), None)

    flag = await until(flag_raised, "the panel flag (P3)")
    await page.reload()
    flag_row = page.locator("#flags tbody tr", has_text=flagged)
    await expect(flag_row).to_contain_text("3 positive tests:")
    await expect(flag_row).to_contain_text(f"detention {detentions[0]}")
    await expect(flag_row).to_contain_text("1 assessment not complied with:")
    await expect(flag_row).to_contain_text("failed to attend")
    await expect(flag_row).not_to_contain_text("[object Object]")
    await tab.no_serious_accessibility_violations("the PPO register page with a panel flag")
    await tab.shot("register-panel-flag")
    await flag_row.get_by_label("Decision", exact=True).select_option("not_selected")
    await flag_row.get_by_label("Note", exact=True).fill("engaging with treatment now")
    await flag_row.get_by_role("button", name="Record").click()
    await expect(page.locator("#announcer")).to_contain_text(f"The panel's decision on {flagged} is recorded")
    waiting = (
        await world.ppo.get("/v1/panel-flags", params={"borough": "lambeth"}, headers=world.coordinator)
    ).json()
    assert flag["id"] not in [f["id"] for f in waiting]  # reviewed: no longer waiting for the panel
    await tab.no_serious_accessibility_violations("the PPO register page")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("register")
    assert [e for e in tab.errors if "422" not in e and "403" not in e] == []


async def test_probation_liaison_records_an_order_by_keyboard_and_compliance_reading_the_warning_as_given(
    world: World, browser: Browser, web: str
) -> None:
    pid, order = world.person("PROB"), f"DRR-K{world.tag}"
    tab = await sign_in_with_keycloak(browser, web, "probation-liaison", "/liaison/probation?area=lambeth")
    page = tab.page
    await expect(page.locator("body[data-probation-loaded]")).to_be_attached()

    # The order recorded by keyboard alone; the treatment months keep their 12.
    fields: list[str | date] = [order, pid, "Camberwell Green", date(2008, 1, 14), "", "PO Patel"]
    await by_keyboard(page, page.get_by_label("Order id"), fields)
    await expect(page.locator("#announcer")).to_contain_text(f"Order {order} for {pid} is recorded")
    made = (await world.breach.get(f"/v1/orders/{order}", headers=world.liaison)).json()["order"]
    assert (made["person_id"], made["start_date"], made["treatment_months"], made["high_risk"]) == (
        pid,
        "2008-01-14",
        12,
        False,
    )
    assert made["responsible_officer"] == "PO Patel"

    row = page.locator("#orders tbody tr", has_text=order)
    await row.get_by_label("What happened").select_option("unacceptable_absence")
    await row.get_by_label("On", exact=True).fill("2008-03-03")
    await row.get_by_label("Reason given").fill("overslept")
    await row.get_by_role("button", name="Record compliance").click()
    await expect(page.locator("#announcer")).to_contain_text(
        f"A formal warning is given (D2). Recorded for {pid}"
    )
    warning = page.locator("#outcome-warning")
    await expect(warning).to_be_visible()
    given = (await world.breach.get(f"/v1/orders/{order}", headers=world.liaison)).json()["warnings"]
    assert len(given) == 1 and given[0]["text"], given
    await expect(warning).to_have_text(given[0]["text"])  # the warning exactly as the service gave it

    await row.get_by_role("button", name=f"Flag high-risk: {pid}").click()
    await expect(page.locator("#announcer")).to_contain_text(f"{pid} is flagged high-risk")
    await row.get_by_label("What happened").select_option("sample_refused")
    await row.get_by_label("On", exact=True).fill("2008-06-02")
    await row.get_by_role("button", name="Record compliance").click()
    await expect(page.locator("#outcome-text")).to_contain_text("Breach: the case goes to enforcement (D3)")
    await expect(page.locator("#outcome-text")).to_contain_text("Enforcement is due by")
    recorded = (await world.breach.get(f"/v1/orders/{order}", headers=world.liaison)).json()
    assert recorded["order"]["high_risk"] is True
    assert [c["decision"] for c in recorded["compliance"]] == ["warning", "breach"]
    assert len(recorded["breach_cases"]) == 1
    # the breach opened a case and, high-risk, a premium arrest request (D5); the tables and the feed show them
    await expect(page.locator("#cases tbody tr", has_text=order)).to_be_visible()
    await expect(page.locator("#arrests tbody tr", has_text=pid)).to_contain_text("Premium")
    feed = page.locator("#feed tbody tr", has_text=pid)
    await expect(feed.filter(has_text="warning")).to_have_count(1)
    await expect(feed.filter(has_text="breach")).to_have_count(1)
    await tab.all_inputs_labelled()
    await tab.no_serious_accessibility_violations("the probation page after a breach")
    await tab.shots_at_both_sizes("liaison-probation-orders")
    assert tab.errors == []


async def test_a_referral_manager_records_the_attendance_of_an_appointment_that_passed_unrecorded(
    world: World, browser: Browser, web: str
) -> None:
    await world.worker("passed")
    pid = world.person("PASSED")
    # tested four days ago: the appointment has passed since
    tested_at = datetime.now(UTC) - timedelta(days=4)
    booking = {
        "person_id": pid,
        "name": "Passed Person",
        "date_of_birth": "1975-05-05",
        "home_area": "lambeth",
        "suite": SUITE,
        "arrested_at": (tested_at - timedelta(hours=1)).isoformat(),
        "booked_in_at": (tested_at - timedelta(minutes=30)).isoformat(),
        "offences": [{"code": "TA1968-s1", "offence_date": tested_at.date().isoformat()}],
    }
    did = (await world.post(world.custody, "/v1/detentions", booking, world.officer, 201))["detention_id"]
    await world.act(did, "warning", {"at": tested_at.isoformat()})
    await world.act(did, "sample", {"at": (tested_at + timedelta(minutes=5)).isoformat()})
    result = {"drug": "cocaine", "result": "positive", "at": (tested_at + timedelta(minutes=30)).isoformat()}
    await world.act(did, "results", result)
    case = await world.assessment(did)
    url = f"/v1/assessments/{case['assessment_id']}"
    served = {"place": "Brixton DIP office", "at": (tested_at + timedelta(hours=1)).isoformat()}
    imposed = await world.post(world.referral, f"{url}/impose", served, world.officer)
    assert datetime.fromisoformat(imposed["initial"]["at"]) < datetime.now(UTC), imposed["initial"]

    tab = await sign_in_with_keycloak(browser, web, "referral-manager", "/team?area=lambeth")
    page = tab.page
    await expect(page.locator("body[data-team-loaded]")).to_be_attached()
    row = page.locator("#overdue tbody tr", has_text=pid)
    await expect(row).to_contain_text("initial")
    await tab.no_serious_accessibility_violations("the team page with a passed appointment")
    await row.get_by_label("What happened").select_option("failed_to_attend")
    await row.get_by_label("With good cause").check()  # A4: with good cause it is not a failure
    await row.get_by_role("button", name="Record attendance").click()
    await expect(page.locator("#announcer")).to_contain_text(
        f"Attendance recorded for {pid}: failed to attend, with good cause"
    )
    await expect(row).to_contain_text("a new appointment needs a new notice (A4)")
    after = (await world.referral.get(url, headers=world.manager)).json()
    assert (after["status"], after["needs_new_notice"]) == ("imposed", True)  # not failed: no police notified
    assert tab.errors == []


async def test_an_analyst_downloads_the_quarterly_return_of_a_borough_with_its_indicators_and_targets(
    data: World, browser: Browser, web: str
) -> None:
    quarter = period_of(datetime.now(LONDON).date(), Granularity.quarter)
    analyst = data.system.token(Role.analyst, "*")
    target = {"baseline_period": quarter, "increase": 0.5}  # this quarter's own count as the baseline
    await data.ppo.put("/v1/targets/k1/lambeth", json=target, headers=analyst)
    k1 = (
        await data.ppo.get(
            "/v1/measures/k1",
            params={**dict(zip(("from", "to"), map(str, bounds(quarter)), strict=True)), "per": "quarter"},
            headers=analyst,
        )
    ).json()
    expected = next(r for r in k1 if r["borough"] == "lambeth")
    assert expected["ppos_considered"] >= 1 and expected["target_ppos_considered"] is not None

    tab = await sign_in_with_keycloak(
        browser, web, "analyst", f"/returns?borough=lambeth&period={quote(quarter)}"
    )
    page = tab.page
    await expect(page.get_by_role("heading", level=2)).to_contain_text(f"lambeth, {quarter}")
    k1_section = page.locator("[data-indicator=K1]")
    await expect(k1_section.locator("tr", has_text="PPOs considered").first).to_contain_text(
        str(expected["ppos_considered"])
    )
    await expect(k1_section.locator("tbody tr", has_text="Target")).to_contain_text(
        f"{round(expected['target_ppos_considered'], 1)}"
    )
    for code in ("K1", "K2", "K3", "K4", "K4T", "T", "K5"):
        await expect(
            page.locator(f"[data-indicator={code}] .hint")
        ).not_to_be_empty()  # each with its definition
    await expect(page.locator("[data-indicator=K5]")).to_contain_text("A year at this rate")
    await tab.no_serious_accessibility_violations("the quarterly return")
    await tab.all_inputs_labelled()
    await tab.shots_at_both_sizes("quarterly-return")

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download the return (XLSX)").click()
    downloaded = await download.value
    assert downloaded.suggested_filename.startswith(
        "return-lambeth-"
    ) and downloaded.suggested_filename.endswith(".xlsx")
    content = await asyncio.to_thread(Path(await downloaded.path()).read_bytes)
    book = openpyxl.load_workbook(io.BytesIO(content))
    lines = [[c for c in row] for row in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    considered = next(line for line in lines if line[0] == "K1" and line[1] == "PPOs considered")
    assert considered[2] == expected["ppos_considered"]
    target_line = next(line for line in lines if line[0] == "K1" and line[1] == "Target")
    assert target_line[2] == round(expected["target_ppos_considered"], 1) and "+50%" in str(target_line[3])
    assert any("5.1.1" in str(line[0]) for line in lines)  # the definitions travel with the numbers
    assert [e for e in tab.errors if "403" not in e] == []

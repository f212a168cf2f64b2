"""/returns: a borough's quarterly return, printable, and the same return as an XLSX workbook: each indicator
with its definition, baseline and target, fetched with the signed-in person's own token (so the services decide
what they may see; a refused measure is shown as refused, never as 0)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from dipflow.exports import XLSX_TYPE, Table, as_xlsx
from dipflow.periods import Granularity, NotAPeriod, bounds, granularity_of, months_in, period_of, year_before
from dipflow.working_days import london_today
from dipflow_web import returns
from dipflow_web import session as sessions
from dipflow_web.pages import area_choice, problem_text, render, signed_in, to_sign_in

router = APIRouter()
PER = {
    Granularity.month: "month",
    Granularity.quarter: "quarter",
    Granularity.financial_year: "financial_year",
}


def last_whole_quarter(today: date) -> str:
    """The most recent financial-year quarter that has ended."""
    this_quarter_starts = bounds(period_of(today, Granularity.quarter))[0]
    return period_of(this_quarter_starts - timedelta(days=1), Granularity.quarter)


async def _fetch(
    request: Request, token: str, service: str, path: str, params: dict[str, str]
) -> tuple[list[dict[str, Any]] | None, str | None]:
    client: httpx.AsyncClient = request.app.state.upstream
    base = request.app.state.settings.service_urls()[service]
    try:
        answer = await client.get(f"{base}{path}", params=params, headers=sessions.bearer(token))
    except httpx.HTTPError:
        return None, f"The {service} service did not answer; try again shortly."
    if answer.status_code != 200:
        return None, problem_text(answer, service)
    rows: list[dict[str, Any]] = answer.json()
    return rows, None


def _refused(code: str, title: str, problem: str) -> returns.Section:
    return returns.Section(code, title, "", problem=problem)


async def _sections(request: Request, token: str, borough: str, period: str) -> list[returns.Section]:
    first, last = bounds(period)
    window = {"from": first.isoformat(), "to": last.isoformat(), "per": PER[granularity_of(period)]}
    baseline = year_before(period)
    calls = {
        "k1": ("ppo-register", "/v1/measures/k1", {**window, "borough": borough}),
        "k2": ("ppo-register", "/v1/measures/k2", {**window, "borough": borough}),
        "k3": ("breach", "/v1/measures/k3", {**window, "baseline": baseline}),
        "drug": ("referral", "/v1/measures/k4", {**window, "borough": borough, "by": "drug"}),
        "ppo": ("referral", "/v1/measures/k4", {**window, "borough": borough, "by": "ppo"}),
        "testing": ("custody", "/v1/measures/testing", window),
        "k5": ("custody", "/v1/measures/k5", window),
        "suites": ("custody", "/v1/suites", {}),
    }
    answers = await asyncio.gather(*(_fetch(request, token, *call) for call in calls.values()))
    got = dict(zip(calls, answers, strict=True))
    suites = {s["code"] for s in (got["suites"][0] or []) if s.get("borough") == borough}
    if got["suites"][0] is None:  # without the suites, no suite's numbers can be said to be the borough's
        for name in ("testing", "k5"):
            got[name] = (None, got["suites"][1])
    sections: list[returns.Section] = []
    rows = {name: answer[0] for name, answer in got.items()}
    problems = {name: answer[1] for name, answer in got.items()}
    sections.append(
        returns.k1_section(rows["k1"], borough, period)
        if rows["k1"] is not None
        else _refused("K1", "PPOs considered through an inspector", problems["k1"] or "")
    )
    sections.append(
        returns.k2_section(rows["k2"], borough)
        if rows["k2"] is not None
        else _refused("K2", "PPOs prosecuted or arrested", problems["k2"] or "")
    )
    sections.append(
        returns.k3_section(rows["k3"], borough, baseline)
        if rows["k3"] is not None
        else _refused("K3", "Time taken to arrest", problems["k3"] or "")
    )
    if rows["drug"] is not None and rows["ppo"] is not None:
        sections.extend(returns.k4_sections(rows["drug"], rows["ppo"]))
    else:
        sections.append(
            _refused(
                "K4", "Tests, positives, assessments and treatment", problems["drug"] or problems["ppo"] or ""
            )
        )
    sections.append(
        returns.compliance_section(rows["testing"], suites)
        if rows["testing"] is not None
        else _refused("T", "Testing compliance", problems["testing"] or "")
    )
    if rows["k5"] is not None and rows["drug"] is not None and rows["ppo"] is not None:
        sections.append(returns.k5_section(rows["k5"], suites, rows["drug"], rows["ppo"], months_in(period)))
    else:
        sections.append(
            _refused("K5", "Tests performed and their cost", problems["k5"] or problems["drug"] or "")
        )
    return sections


def as_table(borough: str, period: str, sections: list[returns.Section]) -> Table:
    rows = [
        {"indicator": s.code, "measure": i.label, "value": i.value, "note": i.note}
        for s in sections
        for i in (s.indicators if s.problem is None else [returns.Indicator(s.title, "refused", s.problem)])
    ]
    return Table(
        f"Return {borough} {period}".replace("/", "-"),
        (
            ("indicator", "Indicator"),
            ("measure", "Measure"),
            ("value", "Value"),
            ("note", "Baseline, target or note"),
        ),
        rows,
        [f"{s.code}: {s.definition}" for s in sections if s.definition],
    )


@router.get("/returns")
async def quarterly_return(
    request: Request, borough: str | None = None, period: str | None = None, format: str | None = None
) -> Response:
    found = signed_in(request)
    if found is None:
        return to_sign_in(request)
    choice = await area_choice(request, found, borough)
    chosen = period or last_whole_quarter(london_today())
    context = {"session": found, "title": "Quarterly return", "period": chosen, **choice}
    try:
        bounds(chosen)
        year_before(chosen)  # the baseline must exist too
    except (NotAPeriod, ValueError) as exc:
        return render(
            request,
            "return.html",
            422,
            problem=f"Not a period a return can cover: {exc}",
            sections=[],
            **context,
        )
    sections = await _sections(request, found.token, choice["area"], chosen)
    if format == "xlsx":
        body = as_xlsx(as_table(choice["area"], chosen, sections))
        name = f"return-{choice['area']}-{chosen.replace('/', '-').replace(' ', '-')}.xlsx"
        return Response(
            body, media_type=XLSX_TYPE, headers={"content-disposition": f'attachment; filename="{name}"'}
        )
    return render(request, "return.html", sections=sections, baseline=year_before(chosen), **context)

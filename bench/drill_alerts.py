"""The drill's clocks: the alerts referral raises, counted while services are killed.

Every positive journey's appointment is proposed with no worker free (the drill registers none), so referral
alerts the area's managers (A9, ``appointment-unassigned``); the release lapses the requirement and resolves it.
The ``imposed`` journeys have RA1 served over HTTP instead of a release: their appointment (in 2008) has passed,
so the attendance-overdue clock (A4) alerts the managers (nobody was assigned); the drill then records the
attendance, which resolves both alerts, and releases the person. A webhook receiver registered for the managers
of the area counts each alert's ``raised`` delivery by its stable delivery id: one per alert, signed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from dipflow.alerts.model import alert_id
from dipflow.auth import Role, mint_token
from dipflow.devstack import free_port
from dipflow.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from dipflow_referral.domain.assessment import assessment_id

UNASSIGNED = "appointment-unassigned"
OVERDUE = "attendance-overdue"
AREA = "lambeth"
Dsn = Callable[[str], str]


def expected_alerts(positive: list[str], imposed: list[str]) -> dict[str, list[str]]:
    """The alert ids each kind should have raised, from the detentions of the journeys."""
    case_ids = {d: assessment_id(d) for d in [*positive, *imposed]}
    return {
        UNASSIGNED: [alert_id(UNASSIGNED, f"{case_ids[d]}:initial") for d in [*positive, *imposed]],
        OVERDUE: [alert_id(OVERDUE, f"{case_ids[d]}:initial") for d in imposed],
    }


@dataclass
class AlertReceiver:
    """The managers' webhook: what arrived, by delivery id, and whether each was signed with the secret."""

    secret: str
    received: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    unsigned: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/alerts")
        async def hook(request: Request) -> Response:
            body = await request.body()
            signature = request.headers.get(SIGNATURE_HEADER, "")
            if not verify(self.secret, request.headers[TIMESTAMP_HEADER], body, signature):
                self.unsigned += 1
                return Response(status_code=401)
            self.received.append((orjson.loads(body), request.headers[DELIVERY_HEADER]))
            return Response(status_code=204)

        return app

    def raised(self) -> dict[str, set[str]]:
        """Each alert's distinct ``raised`` deliveries (a retried attempt has the same delivery id)."""
        out: dict[str, set[str]] = defaultdict(set)
        for body, delivery in self.received:
            if body["event"] == "raised":
                out[body["alert_id"]].add(delivery)
        return out


@asynccontextmanager
async def receiving(secret: str) -> AsyncIterator[tuple[AlertReceiver, str]]:
    receiver = AlertReceiver(secret)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.05)
    try:
        yield receiver, f"http://127.0.0.1:{port}/alerts"
    finally:
        server.should_exit = True
        await task


def _bearer(secret: str, role: Role, area: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, subject=f'drill-{role}', role=role, area=area)}"}


async def register(referral_url: str, secret: str, hook_url: str, hook_secret: str) -> None:
    body = {"role": "referral_manager", "area": AREA, "url": hook_url, "secret": hook_secret}
    async with httpx.AsyncClient(base_url=referral_url, timeout=30) as client:
        answer = await client.put("/v1/alert-receivers", json=body, headers=_bearer(secret, Role.admin, "*"))
        assert answer.status_code == 204, answer.text


async def _retrying(
    step: Callable[[], Awaitable[bool]],
    what: str,
    timeout_s: float,
    last: dict[str, str] | None = None,
    *,
    calm: asyncio.Event | None = None,
) -> None:
    """Run ``step`` until it says it is done: a service killed or restarting mid-call is tried again. The
    ``timeout_s`` counts from when ``calm`` is set (the chaos is over; a broker restart alone took over 90 s on
    a slow CI machine), or from the start without one. On a timeout the error gives the last failure, and what
    ``step`` noted last in ``last`` (its last answers)."""
    failure = "none"
    deadline = time.monotonic() + timeout_s
    while True:
        if calm is not None and not calm.is_set():
            deadline = time.monotonic() + timeout_s
        try:
            if await step():
                return
        except (httpx.HTTPError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            noted = "; ".join(f"{k}: {v}" for k, v in (last or {}).items()) or "nothing"
            raise AssertionError(
                f"the drill could not {what} in {timeout_s:.0f} s after the chaos; last error: {failure}; "
                f"last answers: {noted}"
            )
        await asyncio.sleep(0.5)


async def serve_and_attend(
    urls: Callable[[str], str],
    dsn: Dsn,
    secret: str,
    detention_id: str,
    booked_at: datetime,
    timeout_s: float,
    calm: asyncio.Event | None = None,
) -> None:
    """RA1 served (an hour after booking, before the release), the overdue alert awaited, the attendance
    recorded at the appointment's time, then the release (once custody knows RA1 was served)."""
    case = f"/v1/assessments/{assessment_id(detention_id)}"
    officer = _bearer(secret, Role.custody_officer, "metropolitan")
    manager = _bearer(secret, Role.referral_manager, AREA)
    async with httpx.AsyncClient(timeout=10) as client:
        answers: dict[str, str] = {}

        async def impose() -> bool:
            seen = await client.get(f"{urls('referral')}{case}", headers=officer)
            answers["GET"] = f"{seen.status_code} {seen.text[:200]}"
            if seen.status_code != 200:
                return False
            if seen.json()["status"] != "proposed":
                return True
            body = {"place": "DIP office", "at": (booked_at + timedelta(hours=1)).isoformat()}
            posted = await client.post(f"{urls('referral')}{case}/impose", json=body, headers=officer)
            answers["POST impose"] = f"{posted.status_code} {posted.text[:300]}"
            return False

        async def overdue_raised() -> bool:
            conn = await asyncpg.connect(dsn("referral"))
            try:
                found = await conn.fetchval(
                    "SELECT count(*) FROM alerts WHERE alert_id = $1::uuid",
                    alert_id(OVERDUE, f"{assessment_id(detention_id)}:initial"),
                )
            finally:
                await conn.close()
            return bool(found)

        async def attend() -> bool:
            seen = await client.get(f"{urls('referral')}{case}", headers=manager)
            if seen.status_code != 200:
                return False
            view = seen.json()
            if view["status"] != "imposed":
                return True
            body = {"kind": "initial", "outcome": "attended", "at": view["initial"]["at"]}
            await client.post(f"{urls('referral')}{case}/attendance", json=body, headers=manager)
            return False

        async def release() -> bool:
            at = (booked_at + timedelta(hours=2)).isoformat()
            answer = await client.post(
                f"{urls('custody')}/v1/detentions/{detention_id}/release",
                json={"release": "police_bail", "at": at},
                headers=officer,
            )
            # 409 T8: released already (an earlier attempt went through); 409 A1: custody has not yet
            # learnt that RA1 was served, so try again
            return answer.status_code == 200 or (
                answer.status_code == 409 and answer.json().get("rule_id") == "T8"
            )

        await _retrying(impose, f"serve RA1 for {detention_id}", timeout_s, answers, calm=calm)
        await _retrying(overdue_raised, f"see the overdue alert of {detention_id}", timeout_s, calm=calm)
        await _retrying(attend, f"record the attendance of {detention_id}", timeout_s, calm=calm)
        await _retrying(release, f"release {detention_id}", timeout_s, calm=calm)


async def checks(
    dsn: Dsn, positive: list[str], imposed: list[str], receiver: AlertReceiver
) -> list[tuple[str, int, int, int]]:
    """(name, expected, found, duplicated) for the alerts raised and resolved, and the webhook's deliveries."""
    wanted = expected_alerts(positive, imposed)
    conn = await asyncpg.connect(dsn("referral"))
    try:
        rows = await conn.fetch(
            "SELECT alert_id::text AS id, state FROM alerts WHERE alert_id = ANY($1::uuid[])",
            [*wanted[UNASSIGNED], *wanted[OVERDUE]],
        )
    finally:
        await conn.close()
    state = {r["id"]: r["state"] for r in rows}
    raised = receiver.raised()
    out = []
    for kind, ids in wanted.items():
        out.append((f"referral alerts {kind}: raised", len(ids), sum(1 for i in ids if i in state), 0))
        resolved = sum(1 for i in ids if state.get(i) == "resolved")
        out.append((f"referral alerts {kind}: resolved", len(ids), resolved, 0))
        delivered = Counter({i: len(raised.get(i, ())) for i in ids})
        duplicated = sum(n - 1 for n in delivered.values() if n > 1)
        out.append(
            (
                f"referral alerts {kind}: webhook deliveries",
                len(ids),
                sum(1 for n in delivered.values() if n),
                duplicated,
            )
        )
    return out

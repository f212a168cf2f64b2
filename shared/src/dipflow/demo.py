"""`make demo`: with the system running (`make run`), replay a generated day of a London custody suite through
the public APIs and tell what the system decided, in plain words.

Everything goes through HTTP as the custody suite, the arrest referral workers and the PPO coordinator would
send it; the demo then reads back what the other services made of it (assignments, bail notices, the
tested-positive list, K4 and K5).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console

from dipflow.auth import Role, mint_token

console = Console()
SUITE = "MET-BRIXTON"
OFFENCES = [  # (code, words, weight, extra)
    ("TA1968-s1", "theft", 30, {}),
    ("TA1968-s9", "burglary", 12, {}),
    ("TA1968-s8", "robbery", 5, {}),
    ("MDA1971-s5(2)", "possessing heroin", 10, {"drug": "heroin", "drug_class": "A"}),
    ("MDA1971-s5(2)", "possessing cannabis", 8, {"drug": "cannabis", "drug_class": "B"}),
    ("VA1824-s3", "begging", 5, {}),
    ("CDA1971-s1", "criminal damage", 10, {}),
    ("CJA1988-s39", "common assault", 10, {}),
]


@dataclass
class Urls:
    custody: str
    referral: str
    ppo: str
    breach: str


class Demo:
    def __init__(self, urls: Urls, secret: str, seed: int) -> None:
        self.urls = urls
        self.secret = secret
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible day, not a secret
        self.tag = uuid.UUID(int=self.rng.getrandbits(128)).hex[:5].upper()
        self.client = httpx.Client(timeout=30)
        self.counts: dict[str, int] = {}

    def token(self, role: Role, area: str, worker_id: str | None = None) -> dict[str, str]:
        token = mint_token(self.secret, subject=f"demo-{role}", role=role, area=area, worker_id=worker_id)
        return {"Authorization": f"Bearer {token}"}

    def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        answer = self.client.post(url, json=body, headers=headers)
        if answer.status_code >= 400:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else {}

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def say(self, at: datetime, text: str) -> None:
        console.print(f"[dim]{at:%H:%M}[/dim] {text}")

    def run(self, arrests: int) -> None:
        officer = self.token(Role.custody_officer, "metropolitan")
        inspector = self.token(Role.inspector, "metropolitan")
        manager = self.token(Role.referral_manager, "lambeth")
        coordinator = self.token(Role.ppo_coordinator, "lambeth")
        for name in ("Amira", "Ben", "Chloe"):
            self.post(
                f"{self.urls.referral}/v1/workers",
                {
                    "worker_id": f"W-{self.tag}-{name}",
                    "name": name,
                    "area": "lambeth",
                    "suites": [SUITE],
                    "daily_capacity": 6,
                },
                manager,
            )
        console.rule(f"A day at Brixton custody suite (seed {self.tag})")
        console.print(
            "Three arrest referral workers cover the suite; the PPO register for Lambeth is loaded."
        )
        people = [f"L-DEMO{self.tag}-{n}" for n in range(arrests)]
        ppos = set(self.rng.sample(people, max(1, arrests // 8)))
        start = (datetime.now(UTC) - timedelta(hours=12)).replace(second=0, microsecond=0)
        for pid in ppos:
            self.post(
                f"{self.urls.ppo}/v1/register",
                {
                    "person_id": pid,
                    "borough": "lambeth",
                    "strand": "catch_and_convict",
                    "start_date": (start - timedelta(days=90)).date().isoformat(),
                    "reason": "demo panel",
                },
                coordinator,
            )
        time.sleep(2)  # let the custody suite's copy of the register catch up before the first arrest
        times = sorted(start + timedelta(minutes=self.rng.randrange(0, 11 * 60)) for _ in people)
        positives: list[str] = []
        for pid, at in zip(people, times, strict=True):
            code, words, _, extra = self.rng.choices(OFFENCES, [o[2] for o in OFFENCES])[0]
            if pid in ppos and self.rng.random() < 0.6:
                code, words, extra = "CDA1971-s1", "criminal damage", {}
            age = self.rng.choice([16, 17, 19, 23, 28, 31, 35, 41, 47, 52])
            body = {
                "person_id": pid,
                "name": "Demo Person",
                "date_of_birth": f"{at.year - age}-01-01",
                "home_area": "lambeth",
                "suite": SUITE,
                "arrested_at": at.isoformat(),
                "booked_in_at": (at + timedelta(minutes=5)).isoformat(),
                "offences": [{"code": code, "offence_date": at.date().isoformat(), **extra}],
            }
            booked = self.post(f"{self.urls.custody}/v1/detentions", body, officer)
            self.count("arrests")
            did, decision = booked["detention_id"], booked["decision"]
            who = f"{'PPO, ' if pid in ppos else ''}aged {age}"
            if decision["outcome"] == "needs_authorisation" and pid in ppos:
                self.count("PPO cases put to an inspector (T4)")
                authorised = self.rng.random() < 0.5
                decision = self.post(
                    f"{self.urls.custody}/v1/detentions/{did}/inspector-decision",
                    {
                        "decision": "authorised" if authorised else "declined",
                        "rank": "inspector",
                        "grounds": "Class A misuse suspected to have contributed to the offence",
                        "at": (at + timedelta(minutes=15)).isoformat(),
                    },
                    inspector,
                )["decision"]
                self.say(
                    at,
                    f"Arrested for {words} ({who}): put to an inspector, who "
                    f"{'authorised' if authorised else 'declined'} a test.",
                )
            else:
                self.say(at, f"Arrested for {words} ({who}): {decision['reason']}")
            if decision["outcome"] != "required":
                continue
            self.post(
                f"{self.urls.custody}/v1/detentions/{did}/warning",
                {"at": (at + timedelta(minutes=20)).isoformat()},
                officer,
            )
            if self.rng.random() < 0.06:
                self.post(
                    f"{self.urls.custody}/v1/detentions/{did}/refusal",
                    {"good_cause": False, "at": (at + timedelta(minutes=25)).isoformat()},
                    officer,
                )
                self.count("refusals (offence, T11)")
                self.say(
                    at, "  … refused to give a sample after the warning: an offence; no assessment (T11)."
                )
                continue
            self.post(
                f"{self.urls.custody}/v1/detentions/{did}/sample",
                {"at": (at + timedelta(minutes=30)).isoformat()},
                officer,
            )
            self.count("tests")
            positive = self.rng.random() < 0.5
            drug = self.rng.choice(["cocaine", "opiates"])
            self.post(
                f"{self.urls.custody}/v1/detentions/{did}/results",
                {
                    "drug": drug,
                    "result": "positive" if positive else "negative",
                    "at": (at + timedelta(minutes=45)).isoformat(),
                },
                officer,
            )
            if positive:
                self.count("positives")
                positives.append(did)
                self.say(at, f"  … positive for {drug}: a required assessment is proposed (A1).")
        self.summary(positives, manager, coordinator)

    def summary(self, positives: list[str], manager: dict[str, str], coordinator: dict[str, str]) -> None:
        deadline = time.monotonic() + 30
        assigned: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = self.client.get(
                f"{self.urls.referral}/v1/assessments", params={"area": "lambeth"}, headers=manager
            ).json()
            assigned = [a for a in rows if a["detention_id"] in positives]
            if len(assigned) == len(positives):
                break
            time.sleep(0.5)
        by_worker: dict[str, int] = {}
        for a in assigned:
            worker = (a["initial"] or {}).get("worker_id") or "unassigned queue"
            by_worker[worker] = by_worker.get(worker, 0) + 1
        listed = self.client.get(
            f"{self.urls.ppo}/v1/tested-positive", params={"borough": "lambeth"}, headers=coordinator
        ).json()
        console.rule("The day in numbers")
        for what, n in self.counts.items():
            console.print(f"  {what}: {n}")
        console.print(
            f"  required assessments proposed and assigned: {len(assigned)} of {len(positives)} positives"
        )
        for worker, n in sorted(by_worker.items()):
            console.print(f"    {worker}: {n}")
        demo_ppos = [x for x in listed if x["person_id"].startswith(f"L-DEMO{self.tag}")]
        console.print(f"  PPOs now on the tested-positive list: {len(demo_ppos)}")
        console.print("Open http://127.0.0.1:8002/docs and http://127.0.0.1:8003/docs to look further.")

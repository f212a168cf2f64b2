"""The retention job: records past the retention period are pseudonymised (or, for free text and clinical
notes, deleted), so the counts the measures need stay and the person does not.

Two periods, both settings of each service: ``retention_negative_days`` for a detention that ended with no
positive result, and ``retention_closed_days`` for a case that is closed (a released detention, an
assessment with nothing left to do, an ended register period, a closed breach case). Each service supplies a
:data:`Retainer` that applies them to its own tables. One instance runs at a time (a transaction-level
advisory lock); a run is recorded in ``retention_runs``. Audit entries are kept under the person's id for
``closed_days`` from when they were written (who looked at whose record must stay answerable), then
pseudonymised like the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from dipflow.events.errors import run_with_restarts
from dipflow.logging import get_logger
from dipflow.privacy.pseudonyms import Pseudonyms, pseudonymise_rows

log = get_logger("dipflow.retention")


@dataclass(frozen=True)
class RetentionPolicy:
    negative_days: int
    closed_days: int

    def cutoffs(self, now: datetime) -> RetentionCutoffs:
        return RetentionCutoffs(
            now - timedelta(days=self.negative_days), now - timedelta(days=self.closed_days)
        )


@dataclass(frozen=True)
class RetentionCutoffs:
    """Records that ended before these instants are past their period."""

    negative_before: datetime
    closed_before: datetime


Retainer = Callable[[asyncpg.Connection, Pseudonyms, RetentionCutoffs], Awaitable[dict[str, int]]]


def _lock_key(service: str) -> int:
    return int.from_bytes(hashlib.sha256(f"retention:{service}".encode()).digest()[:8], "big", signed=True)


async def run_retention(
    pool: asyncpg.Pool, service: str, retainer: Retainer, policy: RetentionPolicy, now: datetime | None = None
) -> dict[str, int] | None:
    """One run in one transaction; ``None`` when another instance is running it."""
    cutoffs = policy.cutoffs(now or datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _lock_key(service)):
            return None
        pseudonyms = await Pseudonyms.load(conn)
        rows = await retainer(conn, pseudonyms, cutoffs)
        rows["audit_log"] = await pseudonymise_rows(
            conn, pseudonyms, "audit_log", "at < $1 AND person_id IS NOT NULL", cutoffs.closed_before
        )
        await conn.execute(
            "INSERT INTO retention_runs (policy, rows) VALUES ($1, $2)",
            {**asdict(policy), **{k: v.isoformat() for k, v in asdict(cutoffs).items()}},
            rows,
        )
    log.info("retention_run", service=service, rows=sum(rows.values()), **rows)
    return rows


class RetentionLoop:
    """Runs the job every ``interval_s``. The schedule is kept in the database (from the last run, or from when
    the service first started), so a service that restarts more often than the interval still runs it, and a
    fresh one waits a whole interval first."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        retainer: Retainer,
        policy: RetentionPolicy,
        interval_s: float,
        check_every_s: float = 60.0,
    ) -> None:
        self.pool, self.service, self.retainer, self.policy = pool, service, retainer, policy
        self.interval_s, self.check_every_s = interval_s, check_every_s
        self.runs = 0

    async def due_in_s(self) -> float:
        await self.pool.execute("INSERT INTO retention_schedule DEFAULT VALUES ON CONFLICT DO NOTHING")
        since: datetime = await self.pool.fetchval("SELECT scheduled_from FROM retention_schedule")
        last = await self.pool.fetchval("SELECT max(ran_at) FROM retention_runs")
        due = max(since, last or since) + timedelta(seconds=self.interval_s)
        return (due - datetime.now(UTC)).total_seconds()

    async def run(self) -> None:
        async def session() -> None:
            while True:
                wait = await self.due_in_s()
                if wait > 0:
                    await asyncio.sleep(min(wait, self.check_every_s))
                    continue
                await run_retention(self.pool, self.service, self.retainer, self.policy)
                self.runs += 1

        await run_with_restarts(session, event="retention_failed", log=log, service=self.service)

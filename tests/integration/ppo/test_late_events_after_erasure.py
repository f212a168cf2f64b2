"""An erasure is not undone by events already on their way: against real Kafka and PostgreSQL, the PPO
register's consumer of custody's events applies events about a person it has erased and erases them again,
when they happened before the erasure was asked for; what happened after it is new, and kept."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx

from dipflow.auth import Role
from dipflow.db.database import server_dsn
from dipflow.events import new_envelope
from dipflow.privacy import ErasureRequested, Pseudonyms
from dipflow.topics import PRIVACY_REQUESTS
from tests.infra import Infra
from tests.integration.ppo.custody_stream import Stream
from tests.integration.ppo.test_register_api import bearer, ppo
from tests.integration.test_event_backbone import eventually

__all__ = ["ppo"]

ERASURE_ASKED = datetime(2012, 6, 1, 9, 0, tzinfo=UTC)
BEFORE, AFTER = date(2011, 3, 3), date(2013, 4, 4)


async def test_events_from_before_an_erasure_that_arrive_after_it_leave_no_row_naming_the_person(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    erased, other = f"L-{unique.upper()}-E", f"L-{unique.upper()}-O"
    request_id = uuid.uuid4()
    s = Stream()
    requested = ErasureRequested(request_id=request_id, requested_by="admin", reason="data subject request")
    envelope = new_envelope(requested, person_id=erased, producer="custody", occurred_at=ERASURE_ASKED)
    s.records.append((PRIVACY_REQUESTS.name, erased, envelope.to_bytes()))
    await s.publish(infra.kafka_bootstrap)

    async def erasure_done() -> bool:
        answer = await ppo.get(f"/v1/privacy/erasures/{request_id}", headers=bearer(Role.admin, "*"))
        return answer.status_code == 200

    await eventually(erasure_done, timeout_s=30)

    for person in (erased, other):  # the other person's events show what the erased person's would have left
        detention = s.detention(person, BEFORE, "TA1968-s1", trigger=True)
        s.positive(person, detention, BEFORE)
    new_arrest = s.detention(erased, AFTER, "TA1968-s1", trigger=True)
    s.positive(erased, new_arrest, AFTER)
    await s.publish(infra.kafka_bootstrap)

    conn = await asyncpg.connect(server_dsn(infra.postgres_dsn, f"ppo_{unique}"))
    try:
        alias = (await Pseudonyms.load(conn)).of(erased)

        async def sampled(person: str) -> list[date]:
            rows = await conn.fetch(
                "SELECT sampled_on FROM positive_results WHERE person_id = $1 ORDER BY sampled_on", person
            )
            return [r["sampled_on"] for r in rows]

        async def all_applied() -> bool:  # the erased person's events are on one partition, in order
            return AFTER in await sampled(erased) and await sampled(other) == [BEFORE]

        await eventually(all_applied, timeout_s=30)
        assert await sampled(erased) == [AFTER]
        assert await sampled(alias) == [BEFORE]  # kept, under the pseudonym: the measures still count it
        arrests = await conn.fetch(
            "SELECT person_id, arrested_on FROM arrests WHERE person_id = ANY($1)", [erased, alias]
        )
        assert sorted((r["person_id"], r["arrested_on"]) for r in arrests) == sorted(
            [(alias, BEFORE), (erased, AFTER)]
        )
    finally:
        await conn.close()

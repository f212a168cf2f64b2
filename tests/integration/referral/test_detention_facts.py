"""The custody facts referral keeps per detention, against real PostgreSQL: a batch's facts about one detention
are written as one row however many there are, and a later batch changes only what its facts say."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition

from dipflow.db import apply_migrations, load_migrations
from dipflow.events import EventPayload, new_envelope
from dipflow.events.consumer import Parsed, apply_events
from dipflow.uow import Producer
from dipflow_custody.contracts.events import (
    Charged,
    DetentionBookedIn,
    OffenceAdded,
    Released,
    SampleTaken,
)
from dipflow_referral.contracts.consumed import CONSUMED
from dipflow_referral.domain.assignment import AppointmentPolicy
from dipflow_referral.entrypoints.consumers import custody_handler

SUITE = "MET-BRIXTON"
ARRESTED = datetime(2010, 6, 7, 9, tzinfo=UTC)


def offence(detention_id: str, code: str, *, trigger: bool) -> OffenceAdded:
    return OffenceAdded(
        detention_id=detention_id,
        suite=SUITE,
        code=code,
        offence_date=ARRESTED.date(),
        attempt=False,
        drug="heroin" if trigger else None,
        drug_class="A" if trigger else None,
        further_arrest=False,
        trigger_offence=trigger,
        arrest_power=False,
    )


async def apply_batch(
    conn: asyncpg.Connection, person: str, facts: list[tuple[EventPayload, datetime]]
) -> tuple[int, int, int]:
    """``facts`` applied as one batch of the custody-events consumer; (applied, detentions rows inserted,
    detentions rows updated) by that transaction (pending statistics may still hold an earlier one's)."""
    batch = []
    for n, (payload, at) in enumerate(facts):
        raw = new_envelope(payload, person_id=person, producer="custody", occurred_at=at).to_bytes()
        record = ConsumerRecord("custody.events.v1", 0, n, 0, 0, person.encode(), raw, None, 0, 0, ())
        batch.append(Parsed(record, *CONSUMED.parse(raw)))
    written = "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'detentions'"
    async with conn.transaction():
        before = await conn.fetchrow(written)
        applied, _ = await apply_events(
            conn,
            "referral.custody-events",
            TopicPartition("custody.events.v1", 0),
            batch,
            custody_handler(AppointmentPolicy()),
            Producer("referral", "referral.events.v1"),
        )
        after = await conn.fetchrow(written)
    return applied, after[0] - before[0], after[1] - before[1]


async def test_a_batchs_facts_about_one_detention_write_its_row_once(database_dsn: str, unique: str) -> None:
    person, detention = f"L-{unique.upper()}", f"D-{unique}"
    conn = await asyncpg.connect(database_dsn)
    try:
        await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
        await apply_migrations(conn, load_migrations("dipflow_referral.migrations"))
        booked = DetentionBookedIn(
            detention_id=detention,
            suite=SUITE,
            arrested_at=ARRESTED,
            home_area="lambeth",
            age=31,
            is_ppo=True,
            suite_area="lambeth",
        )
        sampled = SampleTaken(
            detention_id=detention, suite=SUITE, sample_type="urine", stage="arrest", rule_ids=[]
        )
        first = await apply_batch(
            conn,
            person,
            [
                (booked, ARRESTED),
                (offence(detention, "MDA1971-s5(2)", trigger=True), ARRESTED),
                (offence(detention, "CJA1988-s139", trigger=False), ARRESTED),
                (sampled, datetime(2010, 6, 7, 10, tzinfo=UTC)),
                (sampled, datetime(2010, 6, 7, 11, tzinfo=UTC)),
            ],
        )
        charged = Charged(detention_id=detention, suite=SUITE, codes=["CJA1988-s139"], age=32)
        released = Released(
            detention_id=detention, suite=SUITE, release="charged_and_bailed", home_area="lambeth"
        )
        second = await apply_batch(
            conn,
            person,
            [
                (charged, datetime(2010, 6, 7, 15, tzinfo=UTC)),
                (released, datetime(2010, 6, 7, 16, tzinfo=UTC)),
            ],
        )
        row = await conn.fetchrow("SELECT * FROM detentions WHERE detention_id = $1", detention)
    finally:
        await conn.close()
    assert first == (5, 1, 0)
    assert second == (2, 0, 1)
    assert dict(row) == {
        "detention_id": detention,
        "person_id": person,
        "suite": SUITE,
        "suite_area": "lambeth",
        "home_area": "lambeth",
        "age": 32,
        "arrested_at": ARRESTED,
        "is_ppo": True,
        "released_at": datetime(2010, 6, 7, 16, tzinfo=UTC),
        "charged_at": datetime(2010, 6, 7, 15, tzinfo=UTC),
        "charged_codes": ["CJA1988-s139"],
        "restriction_notified": None,
        "class_a_offence_codes": ["MDA1971-s5(2)"],
        "positive_drugs": [],
        "sample_taken_at": datetime(2010, 6, 7, 10, tzinfo=UTC),
        "offence_codes": ["MDA1971-s5(2)", "CJA1988-s139"],
    }

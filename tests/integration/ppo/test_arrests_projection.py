"""The arrests read model (K1, K2) against real PostgreSQL: a batch's events about one arrest are written as
one upsert of its row, and a later batch changes only what its events say."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
from aiokafka import ConsumerRecord

from dipflow.db import connect_pool
from dipflow.db.database import server_dsn
from dipflow.events.consumer import Parsed, apply_events
from dipflow.uow import Producer
from dipflow_custody.contracts.events import OffenceAdded
from dipflow_ppo_register.contracts.consumed import CONSUMED
from dipflow_ppo_register.service_layer.projections import event_handler
from dipflow_ppo_register.settings import PpoRegisterSettings
from tests.infra import Infra
from tests.integration.ppo.custody_stream import SUITE, Stream, at
from tests.integration.ppo.test_register_api import ppo

__all__ = ["ppo"]

DAY = date(2009, 5, 4)


def further_offence(s: Stream, person: str, detention_id: str, code: str, *, arrest_power: bool) -> None:
    payload = OffenceAdded(
        detention_id=detention_id,
        suite=SUITE,
        code=code,
        offence_date=DAY,
        attempt=False,
        drug=None,
        drug_class=None,
        further_arrest=True,
        trigger_offence=False,
        arrest_power=arrest_power,
    )
    s.custody(person, payload, at(DAY, 11))


async def apply_batch(conn: asyncpg.Connection, s: Stream, group: str) -> tuple[int, int, int]:
    """Apply and clear ``s``'s records as one batch; (applied, arrests rows inserted, arrests rows updated).
    The counts are this transaction's (pending statistics may still hold an earlier one's)."""
    batch = [
        Parsed(ConsumerRecord(topic, 0, n, 0, 0, None, raw, None, 0, 0, ()), *CONSUMED.parse(raw))
        for n, (topic, _, raw) in enumerate(s.records)
    ]
    s.records.clear()
    handler = event_handler(panel_threshold=PpoRegisterSettings().positives_for_panel_flag)
    written = "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'arrests'"
    async with conn.transaction():
        before = await conn.fetchrow(written)
        applied, _ = await apply_events(conn, group, batch, handler, Producer("ppo", "x"))
        after = await conn.fetchrow(written)
    return applied, after[0] - before[0], after[1] - before[1]


async def test_k1_a_batchs_events_about_one_arrest_write_its_row_once(
    ppo: httpx.AsyncClient, infra: Infra, unique: str
) -> None:
    person = f"L-{unique.upper()}-A"
    other = f"L-{unique.upper()}-B"
    s = Stream()
    detention = s.detention(person, DAY, "TA1968-s1", trigger=True)
    further_offence(s, person, detention, "CDA1971-s5", arrest_power=False)
    further_offence(s, person, detention, "BA1976-s7", arrest_power=True)
    untouched = s.detention(other, DAY, "CDA1971-s1")
    s.inspector(person, detention, DAY, "authorised")
    pool = await connect_pool(server_dsn(infra.postgres_dsn, f"ppo_{unique}"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            first = await apply_batch(conn, s, f"t-{unique}")
            s.release(person, detention, date(2009, 5, 5), "charged_and_bailed")
            second = await apply_batch(conn, s, f"t-{unique}")
        rows = {
            r["detention_id"]: dict(r)
            for r in await pool.fetch(
                "SELECT detention_id, person_id, arrested_on, suite, codes, trigger_offence, offences, "
                "inspector_decision, released_on, release FROM arrests WHERE person_id = ANY($1::text[])",
                [person, other],
            )
        }
    finally:
        await pool.close()
    assert first == (7, 2, 0)
    assert second == (1, 0, 1)
    assert rows[detention] == {
        "detention_id": detention,
        "person_id": person,
        "arrested_on": DAY,
        "suite": SUITE,
        "codes": ["TA1968-s1", "CDA1971-s5", "BA1976-s7"],
        "trigger_offence": True,
        "offences": 2,
        "inspector_decision": "authorised",
        "released_on": date(2009, 5, 5),
        "release": "charged_and_bailed",
    }
    assert rows[untouched]["codes"] == ["CDA1971-s1"]
    assert rows[untouched]["trigger_offence"] is False
    assert rows[untouched]["released_on"] is None

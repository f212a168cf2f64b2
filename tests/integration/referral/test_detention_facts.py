"""The custody facts referral keeps per detention, against real PostgreSQL: a batch's facts about one detention
are written as one row however many there are, and a later batch changes only what its facts say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

import asyncpg
import orjson
import pytest
from aiokafka import ConsumerRecord

from dipflow.db import apply_migrations, connect_pool, load_migrations
from dipflow.db.appends import Writes
from dipflow.errors import ConcurrentChange
from dipflow.events import EventPayload, new_envelope
from dipflow.events.consumer import Parsed, apply_events
from dipflow.uow import Producer, UnitOfWork
from dipflow_custody.contracts.events import (
    Charged,
    ConfirmatoryResultRecorded,
    DetentionBookedIn,
    OffenceAdded,
    Released,
    ResultRecorded,
    SampleDispatched,
    SampleTaken,
)
from dipflow_referral.adapters import assessments, inbox, workers
from dipflow_referral.contracts.consumed import CONSUMED
from dipflow_referral.domain.assignment import AppointmentPolicy, Leave, StaffMember
from dipflow_referral.entrypoints.consumers import custody_subscription

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
    conn: asyncpg.Connection,
    person: str,
    facts: list[tuple[EventPayload, datetime]],
    statements: list[str] | None = None,
    *,
    counting: tuple[str, ...] = ("n_tup_ins", "n_tup_upd"),
) -> tuple[int, ...]:
    """``facts`` applied as one batch of the custody-events consumer (read ahead as it reads them); (applied,
    and by that transaction each of ``counting`` of ``detentions``: rows inserted, rows updated by default)
    (pending statistics may still hold an earlier one's). Each statement the batch sent is added to
    ``statements`` when given."""
    batch = []
    for n, (payload, at) in enumerate(facts):
        raw = new_envelope(payload, person_id=person, producer="custody", occurred_at=at).to_bytes()
        record = ConsumerRecord("custody.events.v1", 0, n, 0, 0, person.encode(), raw, None, 0, 0, ())
        batch.append(Parsed(record, *CONSUMED.parse(raw)))
    written = f"SELECT {', '.join(counting)} FROM pg_stat_xact_user_tables WHERE relname = 'detentions'"
    subscription = custody_subscription(AppointmentPolicy())
    log = (lambda record: statements.append(record.query)) if statements is not None else None
    async with conn.transaction():
        before = await conn.fetchrow(written)
        if log is not None:
            conn.add_query_logger(log)
        applied, _ = await apply_events(
            conn,
            "referral.custody-events",
            batch,
            subscription.handler,
            Producer("referral", "referral.events.v1"),
            subscription.prefetch,
        )
        if log is not None:
            conn.remove_query_logger(log)
        after = await conn.fetchrow(written)
    return (applied, *(a - b for a, b in zip(after, before, strict=True)))


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


def positive(detention_id: str, drug: str) -> ResultRecorded:
    return ResultRecorded(
        detention_id=detention_id,
        suite=SUITE,
        drug=drug,
        result="positive",
        disputed=False,
        medication_declared=None,
        confirmation_required=False,
        age=31,
        home_area="lambeth",
        initial_assessment_notified=True,
        follow_up_assessment_notified=True,
    )


def released(detention_id: str) -> Released:
    return Released(detention_id=detention_id, suite=SUITE, release="no_further_action", home_area="lambeth")


def _parsed(person: str, offset: int, payload: EventPayload, at: datetime) -> Parsed:
    raw = new_envelope(payload, person_id=person, producer="custody", occurred_at=at).to_bytes()
    record = ConsumerRecord("custody.events.v1", 0, offset, 0, 0, person.encode(), raw, None, 0, 0, ())
    return Parsed(record, *CONSUMED.parse(raw))


def reads_of(table: str, statements: list[str]) -> list[str]:
    return [q for q in statements if q.lstrip().startswith("SELECT") and f"FROM {table} WHERE" in q]


@asynccontextmanager
async def migrated(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the service's pool makes them (jsonb as documents), on referral's tables."""
    pool = await connect_pool(database_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, load_migrations("dipflow.db.platform"), table="platform_migrations")
            await apply_migrations(conn, load_migrations("dipflow_referral.migrations"))
            yield conn
    finally:
        await pool.close()


async def test_a1_a_batch_reads_its_detentions_and_assessments_once_and_sees_what_it_wrote_since(
    database_dsn: str, unique: str
) -> None:
    """The positive opens the requirement, a second positive joins it, the release lapses it: all in one batch,
    each fact finding the assessment as the one before left it, from one read of each table."""
    person, detention = f"L-{unique.upper()}", f"D-{unique}"
    statements: list[str] = []
    async with migrated(database_dsn) as conn:
        at = datetime(2010, 6, 7, 10, tzinfo=UTC)
        applied = await apply_batch(
            conn,
            person,
            [
                (positive(detention, "heroin"), at),
                (positive(detention, "cocaine"), at),
                (released(detention), datetime(2010, 6, 7, 12, tzinfo=UTC)),
            ],
            statements,
        )
        row = await conn.fetchrow(
            "SELECT status, version, state FROM assessments WHERE detention_id = $1", detention
        )
    assert applied[0] == 3
    assert (row["status"], row["version"]) == ("lapsed", 3)
    assert sorted(row["state"]["positive_drugs"]) == ["cocaine", "heroin"]
    assert len(reads_of("assessments", statements)) == 1
    assert len(reads_of("detentions", statements)) == 1


async def test_a1_a_batch_of_releases_reads_every_assessment_they_may_lapse_in_one_statement(
    database_dsn: str, unique: str
) -> None:
    person = f"L-{unique.upper()}"
    opened, without = [f"D-{unique}-{n}" for n in range(3)], f"D-{unique}-none"
    statements: list[str] = []
    async with migrated(database_dsn) as conn:
        at = datetime(2010, 6, 7, 10, tzinfo=UTC)
        await apply_batch(conn, person, [(positive(d, "heroin"), at) for d in opened])
        later = datetime(2010, 6, 7, 12, tzinfo=UTC)
        applied = await apply_batch(
            conn, person, [(released(d), later) for d in [*opened, without]], statements
        )
        rows = await conn.fetch(
            "SELECT detention_id, status, version FROM assessments WHERE detention_id = ANY($1::text[])",
            [*opened, without],
        )
    assert applied[0] == 4
    assert sorted((r["detention_id"], r["status"], r["version"]) for r in rows) == [
        (d, "lapsed", 2) for d in opened
    ]
    assert len(reads_of("assessments", statements)) == 1


async def test_a9_a_batchs_positives_share_the_assignment_lock_and_tell_each_worker_on_commit(
    database_dsn: str, unique: str
) -> None:
    """Three positives in one batch, each given to the one worker covering the suite: the transaction asks for
    the assignment lock, who covers the suite and the worker's team once, and the worker's inbox hears of each appointment when the
    batch commits (in the batch's one statement of appends, not one round trip each)."""
    person, detentions = f"L-{unique.upper()}", [f"D-{unique}-{n}" for n in range(3)]
    statements: list[str] = []
    heard: list[str] = []
    async with migrated(database_dsn) as conn:
        await conn.execute(
            "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
            "VALUES ('W-1', 'Ann', 'lambeth', ARRAY[$1], 9, ARRAY[0, 1, 2, 3, 4, 5, 6, 7], true)",
            SUITE,
        )
        listener = await asyncpg.connect(database_dsn)
        try:
            await listener.add_listener(inbox.CHANNEL, lambda *args: heard.append(args[3]))
            at = datetime(2010, 6, 7, 10, tzinfo=UTC)
            await apply_batch(conn, person, [(positive(d, "heroin"), at) for d in detentions], statements)
            async with asyncio.timeout(10):
                while len(heard) < len(detentions):
                    await asyncio.sleep(0.01)
        finally:
            await listener.close()
        assigned = await conn.fetch("SELECT DISTINCT worker_id FROM appointments WHERE active")
    assert [r["worker_id"] for r in assigned] == ["W-1"]
    assert sorted(orjson.loads(h)["worker_id"] for h in heard) == ["W-1"] * 3
    assert len([q for q in statements if "pg_advisory_xact_lock" in q]) == 1
    assert len(reads_of("workers", [q for q in statements if q.startswith("SELECT area ")])) == 1
    assert len([q for q in statements if "FROM workers w LEFT JOIN worker_leave" in q]) == 1  # who covers
    assert not [q for q in statements if "pg_notify($1, $2)" in q]
    assert not [q for q in statements if q.startswith("INSERT INTO appointments")]  # with each assessment


async def test_a1_an_assessment_saved_over_a_stale_version_writes_nothing_and_a_current_save_frees_its_slot(
    database_dsn: str, unique: str
) -> None:
    """The document and its appointments go in one statement: both or neither."""
    person, detention = f"L-{unique.upper()}", f"D-{unique}"
    async with migrated(database_dsn) as conn:
        await conn.execute(
            "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
            "VALUES ('W-1', 'Ann', 'lambeth', ARRAY[$1], 9, ARRAY[0, 1, 2, 3, 4, 5, 6, 7], true)",
            SUITE,
        )
        await apply_batch(
            conn, person, [(positive(detention, "heroin"), datetime(2010, 6, 7, 10, tzinfo=UTC))]
        )
        uow = UnitOfWork(Writes(conn), Producer("referral", "referral.events.v1"))
        loaded = await assessments.load(uow, detention_id=detention)
        assert loaded is not None and loaded.version == 1
        loaded.assessment.release(datetime(2010, 6, 7, 12, tzinfo=UTC))
        with pytest.raises(ConcurrentChange):
            await assessments.save(uow, loaded.assessment, 0)
        stale = await conn.fetchrow("SELECT worker_id, active FROM appointments")
        await assessments.save(uow, loaded.assessment, 1)
        current = await conn.fetchrow("SELECT worker_id, active FROM appointments")
        row = await conn.fetchrow("SELECT status, version FROM assessments")
    assert tuple(stale) == ("W-1", True)
    assert tuple(current) == ("W-1", False)
    assert tuple(row) == ("lapsed", 2)


async def test_a9_a_change_of_workers_or_leave_is_seen_by_the_same_transactions_next_assignment(
    database_dsn: str,
) -> None:
    """Who covers a suite is read once per transaction, and read again after the transaction changes a worker
    or their leave (a manager's change offers the queue to the worker in the same transaction)."""
    async with migrated(database_dsn) as conn, conn.transaction():
        uow = UnitOfWork(Writes(conn), Producer("referral", "referral.events.v1"))
        assert await workers.covering(uow, SUITE) == []
        ann = StaffMember("W-1", "Ann", "lambeth", (SUITE,), 4, (1, 2, 3, 4, 5))
        await workers.put(uow, ann)
        assert [w.worker_id for w in await workers.covering(uow, SUITE)] == ["W-1"]
        await workers.add_leave(uow, "W-1", Leave(date(2010, 6, 7), date(2010, 6, 9)))
        (covering,) = await workers.covering(uow, SUITE)
        assert covering.leave == (Leave(date(2010, 6, 7), date(2010, 6, 9)),)
        assert await workers.area_of(uow, "W-1") == "lambeth"
        await workers.put(uow, StaffMember("W-1", "Ann", "camden", (SUITE,), 4, (1, 2, 3, 4, 5)))
        assert await workers.area_of(uow, "W-1") == "camden"


async def test_a9_an_unassigned_appointment_due_for_escalation_is_escalated_at_its_batchs_end_unless_answered(
    database_dsn: str, unique: str
) -> None:
    """Nobody covers the suite, and the initial appointments (2010) are sooner than the escalation's 24 hours:
    the managers' alerts are escalated in the batch's own transaction, together in one round trip, with no timer
    left; one answered later in the same batch (the person released, the requirement lapsed) stays resolved and
    is never escalated."""
    person, kept, lapsed = f"L-{unique.upper()}", [f"D-{unique}-1", f"D-{unique}-3"], f"D-{unique}-2"
    statements: list[str] = []
    async with migrated(database_dsn) as conn:
        at = datetime(2010, 6, 7, 10, tzinfo=UTC)
        applied = await apply_batch(
            conn,
            person,
            [
                (positive(kept[0], "heroin"), at),
                (positive(lapsed, "heroin"), at),
                (released(lapsed), at),
                (positive(kept[1], "heroin"), at),
            ],
            statements,
        )
        rows = await conn.fetch(
            "SELECT a.detention_id, al.state, al.escalated_at IS NOT NULL AS escalated FROM alerts al "
            "JOIN assessments a ON a.assessment_id::text = al.case_id WHERE al.kind = 'appointment-unassigned'"
        )
        timers = await conn.fetchval(
            "SELECT count(*) FROM deadlines WHERE kind = 'referral-alert-escalation'"
        )
        audits = await conn.fetch("SELECT action FROM audit_log WHERE action LIKE 'alert.%' ORDER BY id")
    assert applied[0] == 4
    assert sorted((r["detention_id"], r["state"], r["escalated"]) for r in rows) == [
        (kept[0], "escalated", True),
        (lapsed, "resolved", False),
        (kept[1], "escalated", True),
    ]
    assert timers == 0
    assert [a["action"] for a in audits].count("alert.escalate") == 2
    assert len([q for q in statements if q.startswith("UPDATE alerts SET state = 'escalated'")]) == 1


async def test_a9_a_batch_reads_workers_loads_once_and_counts_in_what_it_assigns_and_frees(
    database_dsn: str, unique: str
) -> None:
    """One worker with room for two a day: of four positives in one batch, the third goes to the next day; a
    release lapses the first and frees its slot, which the fourth takes. The loads are read once, and what the
    batch assigns and frees is counted in as it goes, as a fresh read would see it."""
    person, detentions = f"L-{unique.upper()}", [f"D-{unique}-{n}" for n in range(4)]
    statements: list[str] = []
    async with migrated(database_dsn) as conn:
        await conn.execute(
            "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
            "VALUES ('W-1', 'Ann', 'lambeth', ARRAY[$1], 2, ARRAY[0, 1, 2, 3, 4, 5, 6, 7], true)",
            SUITE,
        )
        at, later = datetime(2010, 6, 7, 10, tzinfo=UTC), datetime(2010, 6, 7, 12, tzinfo=UTC)
        facts: list[tuple[EventPayload, datetime]] = [
            *[(positive(d, "heroin"), at) for d in detentions[:3]],
            (released(detentions[0]), later),
            (positive(detentions[3], "heroin"), later),
        ]
        await apply_batch(conn, person, facts, statements)
        rows = await conn.fetch(
            "SELECT a.detention_id, p.day, p.at, p.active FROM appointments p JOIN assessments a "
            "USING (assessment_id) WHERE p.kind = 'initial' ORDER BY a.detention_id"
        )
        fresh = await workers.loads_between(
            UnitOfWork(Writes(conn), Producer("referral", "referral.events.v1")),
            date(2010, 6, 7),
            date(2010, 6, 20),
        )
    held = {r["detention_id"]: (r["day"], r["at"], r["active"]) for r in rows}
    first_day = held[detentions[0]][0]
    assert held[detentions[0]][2] is False  # lapsed: its slot is free
    assert held[detentions[1]][0] == first_day and held[detentions[2]][0] > first_day
    assert held[detentions[3]][:2] == held[detentions[0]][:2]  # the freed slot, taken again
    assert fresh.of("W-1", first_day) == 2 and fresh.of("W-1", held[detentions[2]][0]) == 1
    assert len([q for q in statements if "FROM appointments WHERE active" in q]) == 1


async def test_a6_a_batch_writes_a_new_assessment_once_with_its_last_save_and_then_the_notice_it_served(
    database_dsn: str, unique: str
) -> None:
    """A disputed positive opens the requirement, the sample's dispatch moves its appointment (T12) and the
    confirmation's negative ends it (A6), all in one batch: the assessment is inserted and saved once each, at
    the batch's end, at its final version, and the written notice that ending served follows the row it refers
    to."""
    person, detention = f"L-{unique.upper()}", f"D-{unique}"
    at = datetime(2010, 6, 7, 10, tzinfo=UTC)
    disputed = positive(detention, "heroin").model_copy(
        update={"disputed": True, "confirmation_required": True}
    )
    dispatched = SampleDispatched(
        detention_id=detention, suite=SUITE, drugs=["heroin"], confirmation_due_at=at + timedelta(days=7)
    )
    negative = ConfirmatoryResultRecorded(
        detention_id=detention, suite=SUITE, drug="heroin", result="negative"
    )
    written = "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'assessments'"
    subscription = custody_subscription(AppointmentPolicy())
    facts = [(disputed, at), (dispatched, at + timedelta(hours=1)), (negative, at + timedelta(days=2))]
    async with migrated(database_dsn) as conn:
        await conn.execute(
            "INSERT INTO workers (worker_id, name, area, suites, daily_capacity, working_weekdays, active) "
            "VALUES ('W-1', 'Ann', 'lambeth', ARRAY[$1], 9, ARRAY[0, 1, 2, 3, 4, 5, 6, 7], true)",
            SUITE,
        )
        async with conn.transaction():
            applied, _ = await apply_events(
                conn,
                "referral.custody-events",
                [_parsed(person, n, payload, when) for n, (payload, when) in enumerate(facts)],
                subscription.handler,
                Producer("referral", "referral.events.v1"),
                subscription.prefetch,
            )
            counts = await conn.fetchrow(written)
        row = await conn.fetchrow(
            "SELECT status, version FROM assessments WHERE detention_id = $1", detention
        )
        notices = await conn.fetch(
            "SELECT n.form FROM notices n JOIN assessments a USING (assessment_id) WHERE a.detention_id = $1",
            detention,
        )
    assert applied == 3
    assert (row["status"], row["version"]) == ("ended", 3)
    assert (counts["n_tup_ins"], counts["n_tup_upd"]) == (1, 1)
    assert [n["form"] for n in notices] == ["A6"]

"""A generated year of a large force's custody history, as the custody and referral services would have
published it: for replay benchmarks (how fast a service rebuilds its read models from the topics).

Per detention: booked in, one or two offences, the eligibility decision, a warning, a sample and a result
for most, a charge for some, a release; a positive leads (in referral's stream) to an attendance record, some of
them failures. About 8 events per detention.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from dipflow.events import Envelope, EventPayload, new_envelope
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS
from dipflow_custody.contracts.events import (
    Charged,
    DetentionBookedIn,
    EligibilityDecided,
    OffenceAdded,
    Released,
    ResultRecorded,
    SampleTaken,
    WarningGiven,
)
from dipflow_referral.contracts.events import AttendanceRecorded

SUITES = [
    ("MET-BRIXTON", "lambeth"),
    ("MET-CAMDEN", "camden"),
    ("MET-STOKE-NEWINGTON", "hackney"),
    ("MET-CHARING-CROSS", "westminster"),
]
TRIGGERS = ["TA1968-s1", "TA1968-s9", "TA1968-s12", "TA1968-s22", "MDA1971-s4-2", "MDA1971-s5-2"]


def year_of_history(detentions: int, seed: int = 7, year: int = 2025) -> Iterator[tuple[str, Envelope]]:
    """(topic, envelope) in time order per person; people recur (a large force sees the same people again)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not a secret
    people = [f"L-H{seed}-{i}" for i in range(max(1, detentions // 3))]
    start = datetime(year, 1, 1, tzinfo=UTC)
    for n in range(detentions):
        person = rng.choice(people)
        suite, area = rng.choice(SUITES)
        at = start + timedelta(seconds=rng.randrange(365 * 24 * 3600))
        did = f"D-H{seed}-{n}"
        age = rng.randrange(18, 60)
        code = rng.choice(TRIGGERS)

        def event(
            payload: EventPayload,
            minutes: int,
            topic: str = CUSTODY_EVENTS.name,
            at: datetime = at,
            person: str = person,
        ) -> tuple[str, Envelope]:
            when = at + timedelta(minutes=minutes)
            producer = "custody" if topic == CUSTODY_EVENTS.name else "referral"
            return topic, new_envelope(payload, person_id=person, producer=producer, occurred_at=when)

        yield event(
            DetentionBookedIn(
                detention_id=did,
                suite=suite,
                arrested_at=at,
                home_area=area,
                age=age,
                is_ppo=rng.random() < 0.08,
            ),
            5,
        )
        for k in range(rng.choice((1, 1, 2))):
            yield event(
                OffenceAdded(
                    detention_id=did,
                    suite=suite,
                    code=code if k == 0 else rng.choice(TRIGGERS),
                    offence_date=date(at.year, at.month, at.day),
                    attempt=False,
                    drug=None,
                    drug_class=None,
                    further_arrest=False,
                    trigger_offence=True,
                ),
                6,
            )
        yield event(
            EligibilityDecided(
                detention_id=did,
                suite=suite,
                stage="arrest",
                outcome="test_required",
                rule_ids=["T1", "T3"],
                reason="trigger offence",
                appropriate_adult_required=False,
            ),
            7,
        )
        if rng.random() < 0.08:
            yield event(
                Released(detention_id=did, suite=suite, release="no_further_action", home_area=area), 60
            )
            continue
        yield event(WarningGiven(detention_id=did, suite=suite), 20)
        yield event(
            SampleTaken(detention_id=did, suite=suite, sample_type="saliva", stage="arrest", rule_ids=["T1"]),
            30,
        )
        positive = rng.random() < 0.45
        yield event(
            ResultRecorded(
                detention_id=did,
                suite=suite,
                drug=rng.choice(("cocaine", "opiates")),
                result="positive" if positive else "negative",
                disputed=False,
                medication_declared=None,
                confirmation_required=False,
                age=age,
                home_area=area,
                initial_assessment_notified=True,
                follow_up_assessment_notified=True,
            ),
            45,
        )
        if rng.random() < 0.4:
            yield event(Charged(detention_id=did, suite=suite, codes=[code], home_area=area, age=age), 120)
        yield event(Released(detention_id=did, suite=suite, release="bail", home_area=area), 180)
        if positive:
            failed = rng.random() < 0.2
            yield event(
                AttendanceRecorded(
                    assessment_id=f"A-{did}",
                    detention_id=did,
                    kind="initial",
                    outcome="failed_to_attend" if failed else "attended",
                    good_cause=False,
                    appointment_at=at + timedelta(days=3),
                ),
                3 * 24 * 60,
                REFERRAL_EVENTS.name,
            )

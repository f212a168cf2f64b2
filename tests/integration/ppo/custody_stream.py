"""Publishing custody and referral events as their producers do, for the ppo-register tests: payloads are
the custody service's own models, so a change there that breaks this consumer fails these tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time

from aiokafka import AIOKafkaProducer

from dipflow.events import EventPayload, new_envelope
from dipflow.kafka.connection import kafka_options
from dipflow.topics import CUSTODY_EVENTS, REFERRAL_EVENTS
from dipflow_custody.contracts.events import (
    Charged,
    ConfirmatoryResultRecorded,
    DetentionBookedIn,
    InspectorDecisionRecorded,
    OffenceAdded,
    Released,
    ResultRecorded,
)
from dipflow_referral.contracts.events import AttendanceRecorded

SUITE = "MET-CAMDEN"
_numbers = itertools.count()


def at(day: date, hour: int = 11) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


class Stream:
    """Collects (topic, person, payload or raw dict, when) and publishes them in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, bytes]] = []

    def custody(self, person: str, payload: EventPayload, when: datetime) -> None:
        envelope = new_envelope(payload, person_id=person, producer="custody", occurred_at=when)
        self.records.append((CUSTODY_EVENTS.name, person, envelope.to_bytes()))

    def attendance(
        self, person: str, assessment_id: str, outcome: str, good_cause: bool, when: datetime
    ) -> None:
        """A failure (or attendance) as the referral service records it (RA3), with its own payload model."""
        payload = AttendanceRecorded(
            assessment_id=assessment_id,
            detention_id="D-unknown",
            kind="initial",
            outcome=outcome,
            good_cause=good_cause,
            appointment_at=when,
        )
        envelope = new_envelope(payload, person_id=person, producer="referral", occurred_at=when)
        self.records.append((REFERRAL_EVENTS.name, person, envelope.to_bytes()))

    def detention(
        self,
        person: str,
        day: date,
        code: str = "CDA1971-s1",
        *,
        trigger: bool = False,
        arrest_power: bool = False,
    ) -> str:
        detention_id = f"D-{uuid.uuid4().hex[:12]}-{next(_numbers)}"
        self.custody(
            person,
            DetentionBookedIn(
                detention_id=detention_id,
                suite=SUITE,
                arrested_at=at(day, 10),
                home_area="camden",
                age=30,
                is_ppo=False,
            ),
            at(day, 10),
        )
        self.custody(
            person,
            OffenceAdded(
                detention_id=detention_id,
                suite=SUITE,
                code=code,
                offence_date=day,
                attempt=False,
                drug=None,
                drug_class=None,
                further_arrest=False,
                trigger_offence=trigger,
                arrest_power=arrest_power,
            ),
            at(day, 10),
        )
        return detention_id

    def inspector(self, person: str, detention_id: str, day: date, decision: str = "authorised") -> None:
        self.custody(
            person,
            InspectorDecisionRecorded(
                detention_id=detention_id,
                suite=SUITE,
                decision=decision,
                rank="inspector",
                grounds="Class A misuse suspected",
                oral=False,
                written_confirmation_at=None,
            ),
            at(day, 12),
        )

    def charge(self, person: str, detention_id: str, day: date, codes: list[str]) -> None:
        self.custody(person, Charged(detention_id=detention_id, suite=SUITE, codes=codes), at(day, 13))

    def release(self, person: str, detention_id: str, day: date, release: str = "no_further_action") -> None:
        payload = Released(detention_id=detention_id, suite=SUITE, release=release, home_area="camden")
        self.custody(person, payload, at(day, 14))

    def positive(
        self, person: str, detention_id: str, day: date, drug: str = "cocaine", home_area: str = "camden"
    ) -> None:
        self.custody(
            person,
            ResultRecorded(
                detention_id=detention_id,
                suite=SUITE,
                drug=drug,
                result="positive",
                disputed=False,
                medication_declared=None,
                confirmation_required=False,
                age=30,
                home_area=home_area,
            ),
            at(day, 14),
        )

    def confirmed_negative(self, person: str, detention_id: str, day: date, drug: str = "cocaine") -> None:
        self.custody(
            person,
            ConfirmatoryResultRecorded(detention_id=detention_id, suite=SUITE, drug=drug, result="negative"),
            at(day, 15),
        )

    async def publish(self, bootstrap: str) -> None:
        producer = AIOKafkaProducer(**kafka_options(bootstrap), enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            for topic, person, value in self.records:
                await producer.send(topic, value, key=person.encode())
            await producer.flush()
        finally:
            await producer.stop()
        self.records.clear()

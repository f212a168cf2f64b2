"""A unit of work writes each new event's record value with ``encode_event``: byte for byte the record the
envelope model writes, and refused where the model would refuse it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from dipflow.events import Envelope, EventPayload
from dipflow.events.envelope import encode_event
from dipflow_breach.contracts.events import ArrestMade, ProceedingsStarted
from dipflow_custody.contracts.events import EligibilityDecided
from dipflow_ppo_register.contracts.consumed import CONSUMED, ResultRecordedView
from tests.support.events import positive_result

SUMMER = timezone(timedelta(hours=1))

RESULT = positive_result()
PAYLOADS: list[EventPayload] = [
    RESULT,
    EligibilityDecided(
        detention_id="D1",
        suite="S",
        stage="test",
        outcome="required",
        rule_ids=["T1", "T2"],
        reason='18 or over, arrested for a trigger offence — "quoted", non-ASCII: café \u2028',
        appropriate_adult_required=False,
    ),
    ProceedingsStarted(
        case_id="C1",
        order_id="O1",
        area="camden",
        failure_on=date(2026, 3, 29),
        enforcement_due=date(2026, 4, 2),
        hearing_due=date(2026, 4, 14),
        ppo=True,
        high_risk=False,
        rule_ids=["D3", "D4"],
        reason="a second failure",
    ),
    ArrestMade(
        request_id="R1",
        source="breach",
        arrested_at=datetime(2026, 3, 29, 1, 30, tzinfo=SUMMER),
        detention_id="D2",
        hours_to_arrest=12.345678901234,
        within_target=True,
    ),
    ArrestMade(
        request_id="R2",
        source="breach",
        arrested_at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        detention_id="D3",
        hours_to_arrest=1e-7,
        within_target=True,
    ),
]
FIELDS: dict[str, Any] = {"person_id": "08/1X", "producer": "custody", "correlation_id": "corr-1"}


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.event_type)
@pytest.mark.parametrize(
    "occurred_at",
    [datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC), datetime(2026, 7, 1, 9, tzinfo=SUMMER)],
    ids=["utc", "summer-time"],
)
@pytest.mark.parametrize("causation_id", [None, str(uuid.uuid4())], ids=["first", "caused"])
def test_an_encoded_event_is_byte_for_byte_the_record_the_envelope_writes(
    payload: EventPayload, occurred_at: datetime, causation_id: str | None
) -> None:
    event_id, encoded = encode_event(payload, occurred_at=occurred_at, causation_id=causation_id, **FIELDS)
    written = Envelope(
        event_id=event_id,
        type=payload.event_type,
        version=payload.event_version,
        occurred_at=occurred_at,
        recorded_at=orjson.loads(encoded)["recorded_at"],
        causation_id=causation_id,
        payload=payload.model_dump(mode="json"),
        **FIELDS,
    ).to_bytes()
    assert encoded == written


def test_an_encoded_event_is_read_by_a_consumer_in_one_pass_at_its_own_time() -> None:
    _, encoded = encode_event(RESULT, occurred_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC), **FIELDS)
    envelope, typed = CONSUMED.parse(encoded)
    assert isinstance(typed, ResultRecordedView) and typed.drug == "cocaine"
    assert type(envelope) is not Envelope  # the typed envelope: validated in one pass
    assert envelope.occurred_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert envelope.recorded_at.tzinfo is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"occurred_at": datetime(2026, 11, 30, 9, 15)}, "UTC offset"),
        ({"person_id": ""}, "person_id"),
        ({"person_id": "x" * 65}, "person_id"),
        ({"correlation_id": ""}, "correlation_id"),
        ({"producer": "p" * 51}, "producer"),
        ({"causation_id": "c" * 101}, "causation_id"),
    ],
)
def test_an_event_the_envelope_would_refuse_is_refused(change: dict[str, Any], reason: str) -> None:
    fields: dict[str, Any] = {"occurred_at": datetime(2026, 11, 30, 9, 15, tzinfo=UTC), **FIELDS, **change}
    with pytest.raises(ValueError, match=reason):
        encode_event(RESULT, **fields)
    with pytest.raises(ValueError):  # the model refuses the same (pydantic's ValidationError is a ValueError)
        Envelope(
            event_id=uuid.uuid4(),
            type=RESULT.event_type,
            version=1,
            recorded_at=datetime.now(UTC),
            payload=RESULT.model_dump(mode="json"),
            **fields,
        )

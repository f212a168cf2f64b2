"""Which late events an erasure covers: judged on when each event happened, not on when it was read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dipflow.events import Envelope, new_envelope
from dipflow.privacy import ErasureRequested, Pseudonyms
from dipflow.privacy.late import covered_by_erasure

ASKED = datetime(2012, 6, 1, 9, 0, tzinfo=UTC)
PSEUDONYMS = Pseudonyms(b"k" * 32)


def event(person: str, occurred_at: datetime) -> Envelope:
    payload = ErasureRequested(request_id=uuid.uuid4(), requested_by="x", reason="y")
    return new_envelope(payload, person_id=person, producer="custody", occurred_at=occurred_at)


def test_an_erasure_covers_what_happened_up_to_when_it_was_asked_for_and_not_after() -> None:
    before, at, after = (event("01/1A", ASKED + timedelta(seconds=s)) for s in (-86_400 * 400, 0, 1))
    erased = {PSEUDONYMS.of("01/1A"): ASKED}
    assert covered_by_erasure([before, at, after], PSEUDONYMS.of, erased) == [before, at]


def test_an_erasure_covers_only_its_own_person() -> None:
    someone_else = event("02/2B", ASKED - timedelta(days=1))
    assert covered_by_erasure([someone_else], PSEUDONYMS.of, {PSEUDONYMS.of("01/1A"): ASKED}) == []
    assert covered_by_erasure([someone_else], PSEUDONYMS.of, {}) == []

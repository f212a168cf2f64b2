"""The detention's document as the custody database keeps it (jsonb, written by orjson): times keep their offset
as ISO 8601 text, and the document reads back to the same detention, from the column and from the memo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson

from dipflow.working_days import LONDON
from dipflow_custody.adapters.repository import from_doc, to_doc
from dipflow_custody.domain.deadlines import HOLD_AFTER_CHARGE
from dipflow_custody.domain.detention import Authorisation, Detention, Disposal, OffenceDisposal
from dipflow_custody.domain.eligibility import InspectorDecision
from tests.unit.custody.test_detention import sampled

SUMMER = datetime(2008, 6, 1, 10, 0, 0, 250_000, tzinfo=LONDON)


def a_detention() -> Detention:
    d = sampled(at=SUMMER)
    d.authorisation = Authorisation(
        InspectorDecision.authorised,
        "Insp 1",
        "inspector",
        "grounds",
        SUMMER,
        True,
        SUMMER + timedelta(hours=1),
    )
    d.disposals = {"TA1968-s1": OffenceDisposal(Disposal.charged, datetime(2008, 6, 1, 12, tzinfo=UTC))}
    d.released_at = SUMMER + timedelta(hours=3)
    d.hold_timers = {HOLD_AFTER_CHARGE: SUMMER + timedelta(hours=6)}
    return d


def test_times_are_stored_as_iso_8601_text_with_their_offset() -> None:
    d = a_detention()
    stored = orjson.loads(orjson.dumps(to_doc(d)))
    assert stored["arrested_at"] == SUMMER.isoformat() == "2008-06-01T10:00:00.250000+01:00"
    assert stored["released_at"] == (SUMMER + timedelta(hours=3)).isoformat()
    assert stored["authorisation"]["at"] == SUMMER.isoformat()
    assert stored["authorisation"]["person_told_at"] is None
    assert stored["disposals"]["TA1968-s1"]["at"] == "2008-06-01T12:00:00+00:00"
    added = d.offences[0].added_at
    assert added is not None and stored["offences"][0]["added_at"] == added.isoformat()


def test_the_document_reads_back_to_the_same_detention_from_the_column_and_from_the_memo() -> None:
    d = a_detention()
    assert from_doc(orjson.loads(orjson.dumps(to_doc(d)))) == d
    assert from_doc(to_doc(d)) == d
    assert from_doc(to_doc(replace(d, released_at=None))).released_at is None


def test_a_document_saved_before_hold_timers_were_kept_reads_back_with_them_not_known() -> None:
    doc = orjson.loads(orjson.dumps(to_doc(a_detention())))
    assert from_doc(doc).hold_timers == {HOLD_AFTER_CHARGE: SUMMER + timedelta(hours=6)}
    del doc["hold_timers"]
    assert from_doc(doc).hold_timers is None

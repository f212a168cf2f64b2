"""The testing compliance return: how each detention counts, judged on its own facts' times."""

from __future__ import annotations

from datetime import timedelta

from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.compliance import compliance_record
from dipflow_custody.domain.detention import ReleaseKind
from tests.unit.custody.test_detention import STATIONS, T0, detention, sampled, warned


def test_a_trigger_arrest_tested_counts_as_required_and_taken() -> None:
    record = compliance_record(sampled(), STATIONS)
    assert (record.trigger_arrest, record.required, record.taken, record.refused, record.missed) == (
        True,
        True,
        True,
        False,
        False,
    )


def test_a_trigger_arrest_released_untested_is_a_missed_test_but_one_still_in_custody_is_not_yet() -> None:
    d = detention()
    assert compliance_record(d, STATIONS).missed is False  # still in custody: the chance has not gone
    d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=2))
    record = compliance_record(d, STATIONS)
    assert record.required and record.missed and not record.taken


def test_a_warned_refusal_counts_as_required_and_refused_not_missed() -> None:
    d = warned(detention())
    d.record_refusal(STATIONS, T0 + timedelta(hours=1), good_cause=False)
    record = compliance_record(d, STATIONS)
    assert (record.required, record.refused, record.missed) == (True, True, False)


def test_a_non_trigger_arrest_without_an_inspector_is_neither_required_nor_missed() -> None:
    d = detention(code="CDA1971-s1")
    d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=2))
    record = compliance_record(d, STATIONS)
    assert (record.trigger_arrest, record.required, record.missed) == (False, False, False)
    assert record.counts() == {
        "arrests": 1,
        "trigger_arrests": 0,
        "tests_required": 0,
        "tests_taken": 0,
        "tests_refused": 0,
        "tests_missed": 0,
    }


def test_an_offence_added_after_the_sample_does_not_change_how_the_test_counted() -> None:
    d = sampled()
    d.add_offence(Offence("TA1968-s9", T0.date()), T0 + timedelta(hours=2), further_arrest=True)
    assert compliance_record(d, STATIONS).required is True

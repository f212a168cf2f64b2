"""The custody board's next steps (T3-T7, T10, T12, A1): what each person in custody needs next, in order."""

from __future__ import annotations

from datetime import timedelta

from dipflow_custody.domain.board import next_steps
from dipflow_custody.domain.detention import Detention, DrugResult, ReleaseKind, ResultValue
from dipflow_custody.domain.eligibility import InspectorDecision
from tests.unit.custody.test_detention import STATIONS, T0, detention, sampled, warned


def actions(d: Detention) -> list[str]:
    return [s.action for s in next_steps(d, d.decide(STATIONS))]


def test_T6_T7_a_trigger_offence_arrest_needs_the_warning_then_the_sample_then_the_result() -> None:
    d = detention()
    assert actions(d) == ["warning"]
    assert actions(warned(d)) == ["sample"]
    assert actions(sampled()) == ["results"]


def test_T5_a_juvenile_needs_an_appropriate_adult_before_the_warning() -> None:
    d = detention(age=16)
    d.charge({"TA1968-s1"}, T0 + timedelta(minutes=20))
    assert actions(d) == ["appropriate-adult"]
    d.appropriate_adult_arrived(T0 + timedelta(minutes=25))
    assert actions(d) == ["warning"]


def test_T3_T4_a_non_trigger_offence_needs_an_inspector_then_its_written_confirmation() -> None:
    d = detention(code="CDA1971-s1")
    assert actions(d) == ["inspector-decision"]
    d.record_inspector_decision(
        InspectorDecision.authorised,
        T0 + timedelta(minutes=30),
        by="insp",
        rank="inspector",
        grounds="g",
        oral=True,
    )
    assert actions(d) == ["warning", "written-confirmation"]


def test_A1_RA1_to_serve_is_shown_after_the_result_until_served_and_nothing_after_release() -> None:
    d = sampled()
    d.record_result(DrugResult("cocaine", ResultValue.positive), T0 + timedelta(hours=2))
    assert actions(d) == []
    d.requirement_proposed("a-1")
    assert [(s.action, s.rule_ids) for s in next_steps(d, d.decide(STATIONS))] == [("ra1", ("A1",))]
    d.release(ReleaseKind.no_further_action, T0 + timedelta(hours=3), lapse_confirmed=True)
    assert actions(d) == []

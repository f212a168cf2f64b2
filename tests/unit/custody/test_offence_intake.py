"""T1 by provision: every offence a custody system records is accepted; the catalogue names it when it knows it,
and Schedule 6 decides from the statute and section (and attempt, and drug) whether it is a trigger offence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dipflow.errors import InvalidInput
from dipflow_custody.domain.catalogue import (
    CATEGORIES,
    BadProvision,
    OffenceIntake,
    Provision,
    TriggerRow,
    UnknownOffence,
    is_trigger_offence,
    normalise_section,
    resolve,
    shipped_catalogue,
    trigger_rows,
)

DAY = date(2009, 3, 2)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("s.1", "s.1"),
        ("s1", "s.1"),
        ("S. 5 (2)", "s.5(2)"),
        ("section 170(4)", "s.170(4)"),
        ("12a", "s.12A"),
        ("s.5(1)(a)", "s.5(1)(a)"),
        ("s.139(1)", "s.139(1)"),
        ("", ""),
    ],
)
def test_sections_are_read_however_custody_systems_write_them(given: str, canonical: str) -> None:
    assert normalise_section(given) == canonical


@pytest.mark.parametrize("given", ["s.x", "section five", "s.5(2", "§5"])
def test_a_section_that_cannot_be_read_is_refused_with_its_field(given: str) -> None:
    with pytest.raises(BadProvision) as refused:
        normalise_section(given, field="offences.section")
    assert refused.value.field == "offences.section"


def test_a_subsection_is_within_its_section_but_another_section_with_a_letter_is_not() -> None:
    theft = Provision.of("Theft Act 1968", "s.12")
    assert Provision.of("theft act 1968", "s.12(1)").within(theft)
    assert not Provision.of("Theft Act 1968", "s.12A").within(theft)
    assert not Provision.of("Theft Act 1978", "s.12").within(theft)


def intake(statute: str | None = None, section: str | None = None, **kw: object) -> OffenceIntake:
    return OffenceIntake(offence_date=kw.pop("on", DAY), statute=statute, section=section, **kw)  # type: ignore[arg-type]


def test_t1_an_offence_outside_the_catalogue_is_recorded_as_given_and_is_not_a_trigger() -> None:
    statute = "Ancient Monuments and Archaeological Areas Act 1979"
    offence = resolve(
        intake(statute, "s 28 (1)", wording="damaging a protected monument", system_code="AM79001")
    )
    assert (offence.in_catalogue, offence.code, offence.statute, offence.section) == (
        False,
        "AM79001",
        statute,
        "s.28(1)",
    )
    assert offence.wording == "damaging a protected monument"
    check = is_trigger_offence(offence)
    assert not check.is_trigger
    assert "not in the catalogue" in check.reason and f"{statute} s.28(1)" in check.reason


def test_t1_schedule_6_decides_by_provision_even_for_an_offence_the_catalogue_does_not_know() -> None:
    # a subsection of theft, as a custody system may write it, with its own code and words
    offence = resolve(
        intake("THEFT ACT 1968", "section 1(1)", wording="theft from a shop", system_code="TH68010")
    )
    assert offence.in_catalogue is False
    assert is_trigger_offence(offence).is_trigger


def test_a_provision_the_catalogue_knows_is_named_from_it_without_a_code() -> None:
    offence = resolve(intake("Theft Act 1968", "s.9"))
    assert (offence.code, offence.title, offence.in_catalogue) == ("TA1968-s9", "burglary", True)


def test_a_statute_may_be_named_by_the_abbreviation_its_catalogue_codes_use() -> None:
    assert resolve(intake("TA1968", "s9")).code == "TA1968-s9"


def test_a_code_and_a_provision_that_disagree_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve(intake("Theft Act 1968", "s.9", code="TA1968-s1"))
    assert refused.value.kind == "offence-mismatch"


def test_an_unknown_code_without_a_statute_cannot_be_recorded() -> None:
    with pytest.raises(UnknownOffence) as refused:
        resolve(intake(code="XX1999-s1"))
    assert refused.value.field == "offences.code" and "TA1968-s1" in refused.value.known


def test_a_known_code_alone_is_still_enough() -> None:
    offence = resolve(intake(code="MDA1971-s5(2)", drug="crack"))
    assert (offence.statute, offence.section, offence.drug, offence.drug_class) == (
        "Misuse of Drugs Act 1971",
        "s.5(2)",
        "cocaine",
        "A",
    )


@pytest.mark.parametrize(
    "row", trigger_rows(), ids=lambda r: f"{r.provision}{' attempt' if r.attempt else ''}"
)
def test_t1_each_schedule_6_row_by_its_provision_starts_on_its_date_and_ends_on_its_date(
    row: TriggerRow,
) -> None:
    drug = "heroin" if row.specified_class_a_drug_only else None

    def trigger(on: date) -> bool:
        given = intake(row.provision.statute, row.provision.section, on=on, attempt=row.attempt, drug=drug)
        return is_trigger_offence(resolve(given)).is_trigger

    assert not trigger(row.valid_from - timedelta(days=1)) or _another_row_covers(
        row, row.valid_from - timedelta(days=1)
    )
    assert trigger(row.valid_from)
    if row.valid_to is not None:
        assert trigger(row.valid_to)
        assert not trigger(row.valid_to + timedelta(days=1))


def _another_row_covers(row: TriggerRow, on: date) -> bool:
    return any(
        other is not row
        and other.provision == row.provision
        and other.attempt == row.attempt
        and other.in_force(on)
        for other in trigger_rows()
    )


def test_the_shipped_catalogue_has_every_schedule_6_provision_and_over_200_offences() -> None:
    catalogue = shipped_catalogue()
    assert all(catalogue.find(row.provision) is not None for row in trigger_rows())
    assert len(catalogue) >= 200
    assert {t.category for t in catalogue} <= set(CATEGORIES)


def test_a_common_law_offence_is_named_by_its_wording() -> None:
    offence = resolve(intake("Common law", "", wording="Perverting the course of justice"))
    assert offence.in_catalogue and offence.code == "CL-perverting-the-course-of-justice"
    unknown = resolve(intake("common law", None, wording="champerty"))
    assert not unknown.in_catalogue and unknown.title == "champerty"

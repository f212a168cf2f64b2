"""Every row of the trigger-offence table (docs/rules.md, CJCSA 2000 Sch 6), on the day before and the day of each
effective date. The expected table is written out here from docs/rules.md, independently of the data file."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dipflow_custody.domain.catalogue import (
    Offence,
    ReferenceSnapshot,
    UnknownOffence,
    current_reference,
    drug_vocabulary,
    install_reference,
    is_specified_drug,
    is_trigger_offence,
    offence_types,
)
from dipflow_custody.domain.drugs import ClassPeriod, Drug, DrugVocabulary, Period

Y2001 = date(2001, 1, 1)  # docs/rules.md gives the year only
JUL2004 = date(2004, 7, 27)

# (code, attempt, from, to-inclusive)
LAW: list[tuple[str, bool, date, date | None]] = [
    *[(f"TA1968-{s}", False, Y2001, None) for s in ("s1", "s8", "s9", "s10", "s12", "s12A", "s25")],
    ("TA1968-s22", False, JUL2004, None),
    ("TA1968-s15", False, Y2001, date(2007, 1, 14)),
    *[(f"FA2006-{s}", False, date(2007, 1, 15), None) for s in ("s1", "s6", "s7")],
    *[(f"TA1968-{s}", True, JUL2004, None) for s in ("s1", "s8", "s9", "s22")],
    ("FA2006-s1", True, date(2007, 8, 1), None),
    ("VA1824-s3", False, JUL2004, None),
    ("VA1824-s4", False, JUL2004, None),
]
MDA = ["MDA1971-s4", "MDA1971-s5(2)", "MDA1971-s5(3)"]
NEVER = ["CJA1988-s39", "CDA1971-s1", "OAPA1861-s47", "POA1986-s4", "BA1976-s6"]


def _trigger(
    code: str, on: date, attempt: bool = False, drug: str | None = None, klass: str | None = None
) -> bool:
    return is_trigger_offence(Offence(code, on, attempt=attempt, drug=drug, drug_class=klass)).is_trigger


@pytest.mark.parametrize(("code", "attempt", "start", "end"), LAW, ids=lambda v: str(v))
def test_trigger_row_starts_on_its_date_and_not_the_day_before(
    code: str, attempt: bool, start: date, end: date | None
) -> None:
    assert not _trigger(code, start - timedelta(days=1), attempt)
    assert _trigger(code, start, attempt)
    if end is None:
        assert _trigger(code, date(2026, 11, 23), attempt)
    else:
        assert _trigger(code, end, attempt)
        assert not _trigger(code, end + timedelta(days=1), attempt)


def test_theft_by_deception_stops_being_a_trigger_when_fraud_starts() -> None:
    assert _trigger("TA1968-s15", date(2007, 1, 14)) and not _trigger("FA2006-s1", date(2007, 1, 14))
    assert not _trigger("TA1968-s15", date(2007, 1, 15)) and _trigger("FA2006-s1", date(2007, 1, 15))


@pytest.mark.parametrize("code", MDA)
def test_drug_offences_are_triggers_only_for_a_specified_class_a_drug(code: str) -> None:
    day = date(2008, 5, 1)
    assert _trigger(code, day, drug="heroin", klass="A")
    assert _trigger(code, day, drug="Crack", klass="A")
    assert not _trigger(code, day, drug="cannabis", klass="B")
    assert not _trigger(code, day)  # no drug stated
    # MDMA is Class A but was not a specified drug until 2 Aug 2023 (T14, SI 2023/784)
    assert not _trigger(code, date(2023, 8, 1), drug="mdma", klass="A")
    assert _trigger(code, date(2023, 8, 2), drug="mdma", klass="A")


@pytest.mark.parametrize(
    ("code", "attempt"), [("TA1968-s10", True), ("TA1968-s12", True), ("VA1824-s3", True)]
)
def test_attempts_not_in_the_table_are_not_triggers(code: str, attempt: bool) -> None:
    assert not _trigger(code, date(2020, 1, 1), attempt)


@given(
    st.sampled_from(NEVER), st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)), st.booleans()
)
def test_other_offences_are_never_triggers(code: str, day: date, attempt: bool) -> None:
    assert not _trigger(code, day, attempt)


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2040, 1, 1)))
def test_the_reason_names_the_statute_and_the_date(day: date) -> None:
    check = is_trigger_offence(Offence("TA1968-s9", day, attempt=True))
    assert "attempted burglary" in check.reason and "Theft Act 1968 s.9" in check.reason
    assert f"{day:%d %b %Y}" in check.reason
    assert check.is_trigger == (day >= JUL2004)


def test_unknown_code_lists_the_known_codes() -> None:
    with pytest.raises(UnknownOffence) as raised:
        is_trigger_offence(Offence("TA1968-s99", date(2010, 1, 1)))
    assert "TA1968-s1" in raised.value.known and "TA1968-s99" not in raised.value.known
    assert set(raised.value.known) == set(offence_types())


@pytest.mark.parametrize(
    ("drug", "before", "from_aug_2023"),
    [
        ("opiates", True, True),
        ("heroin", True, True),
        ("Cocaine", True, True),
        ("crack", True, True),
        ("mdma", False, True),
        ("fentanyl", False, True),
        ("methamphetamine", False, True),
        ("cannabis", False, False),
        ("ketamine", False, False),
        ("not a drug", False, False),
    ],
)
def test_t14_specified_drugs_by_date_from_the_vocabulary(
    drug: str, before: bool, from_aug_2023: bool
) -> None:
    assert is_specified_drug(drug, on=date(2023, 8, 1)) is before
    assert is_specified_drug(drug, on=date(2023, 8, 2)) is from_aug_2023


def test_a_drug_offence_takes_the_class_from_the_vocabulary_not_from_the_caller() -> None:
    day = date(2024, 1, 10)
    assert not _trigger("MDA1971-s5(2)", day, drug="cannabis", klass="A")
    assert _trigger(
        "MDA1971-s5(2)", day, drug="ecstasy", klass="B"
    )  # MDMA is Class A, specified since Aug 2023
    check = is_trigger_offence(Offence("MDA1971-s5(2)", day, drug="cannabis"))
    assert "cannabis was Class B and not a specified Class A drug on 10 Jan 2024" in check.reason


def test_methamphetamine_became_class_a_on_18_january_2007() -> None:
    meth = drug_vocabulary().get("crystal meth")
    assert (meth.class_on(date(2007, 1, 17)), meth.class_on(date(2007, 1, 18))) == ("B", "A")
    cannabis = drug_vocabulary().get("cannabis")
    days = (date(2004, 1, 28), date(2004, 1, 29), date(2009, 1, 25), date(2009, 1, 26))
    assert [cannabis.class_on(day) for day in days] == ["B", "C", "C", "B"]


def test_t14_an_offence_is_decided_anew_under_reference_data_installed_since() -> None:
    """The same offence on the same day asked again after a new vocabulary was installed (ketamine made a
    specified Class A drug, as managed reference data may) is decided under the new one, and back again."""
    offence = Offence("MDA1971-s5(2)", date(2024, 1, 10), drug="ketamine")
    shipped = current_reference()
    since_2020 = Period(date(2020, 1, 1), None)
    ketamine_specified = Drug("ketamine", (), (ClassPeriod("A", since_2020),), (since_2020,))
    others = [drug for drug in shipped.drugs if drug.name != "ketamine"]
    assert not is_trigger_offence(offence).is_trigger
    install_reference(
        ReferenceSnapshot(
            shipped.version + 1, shipped.offences, DrugVocabulary([*others, ketamine_specified])
        )
    )
    try:
        assert is_trigger_offence(offence).is_trigger
    finally:
        install_reference(shipped)
    assert not is_trigger_offence(offence).is_trigger

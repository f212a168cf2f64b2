"""What is left of a detention after pseudonymisation keeps the ages the rules and measures use."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from dipflow.privacy import Pseudonyms
from dipflow_custody.domain.age import age_on
from dipflow_custody.domain.privacy import has_positive_result, pseudonymised_state, same_age_birth_date

births = st.dates(min_value=date(1920, 1, 1), max_value=date(2012, 12, 31))
days = st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31))


@given(births, days)
def test_the_generalised_birth_date_gives_the_same_age_on_the_day_and_nothing_finer(
    born: date, on: date
) -> None:
    if born > on:
        return
    generalised = same_age_birth_date(born, on)
    assert age_on(generalised, on) == age_on(born, on)
    assert (generalised.month, generalised.day) in {
        (on.month, on.day),
        (2, 28),
    }  # from the day, not the person


def test_29_february_arrest_in_a_leap_year_gives_28_february_in_a_common_year() -> None:
    assert same_age_birth_date(date(1980, 3, 1), date(2008, 2, 29)) == date(1981, 2, 28)
    assert age_on(date(1981, 2, 28), date(2008, 2, 29)) == 27 == age_on(date(1980, 3, 1), date(2008, 2, 29))


def test_the_state_loses_the_person_the_birthday_and_declared_medication_but_keeps_the_results() -> None:
    state = {
        "person_id": "08/123456A",
        "date_of_birth": "1975-05-05",
        "arrested_at": "2008-03-03T10:00:00+00:00",
        "results": {"cocaine": {"drug": "cocaine", "value": "positive", "medication_declared": "methadone"}},
    }
    left = pseudonymised_state(state, "Z-ABC")
    assert left["person_id"] == "Z-ABC" and left["date_of_birth"] == "1976-03-03"  # 32 on arrest
    assert left["results"]["cocaine"] == {"drug": "cocaine", "value": "positive", "medication_declared": None}
    assert has_positive_result(left) and not has_positive_result({**left, "results": {}})


def test_pseudonyms_are_stable_per_key_differ_between_keys_and_are_never_pseudonymised_again() -> None:
    one, two = Pseudonyms(b"k" * 32), Pseudonyms(b"j" * 32)
    alias = one.of("08/123456A")
    assert alias == one.of("08/123456A") != one.of("08/123456B")
    assert alias != two.of("08/123456A")
    assert alias.startswith("Z-") and "123456" not in alias and one.of(alias) == alias

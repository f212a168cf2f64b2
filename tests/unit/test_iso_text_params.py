"""Dates and times in request and command bodies are ISO 8601 text: a number, or text that reads as one, is
refused with a reason, however it is written (pydantic would take it as a Unix time)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from dipflow.http.params import Day, Instant

DAY: TypeAdapter[date] = TypeAdapter(Day)
INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)


@pytest.mark.parametrize(
    "number", [1700000000, 1.5, True, "1700000000", " 2024 ", "1e-5", "2024e-1", "+12", ".5"]
)
def test_a_number_is_refused_as_a_day_and_as_an_instant(number: object) -> None:
    for adapter in (DAY, INSTANT):
        with pytest.raises(ValidationError, match="not a number"):
            adapter.validate_python(number)


def test_iso_text_is_read() -> None:
    assert DAY.validate_python("2024-06-10") == date(2024, 6, 10)
    assert INSTANT.validate_python("2024-06-10T10:00:00Z").hour == 10

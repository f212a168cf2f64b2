"""Parameter types shared by the services' routes."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AwareDatetime, BeforeValidator, Field

from dipflow.people import PERSON_ID_PATTERN

BIGINT_MAX = 2**63 - 1
"""The largest PostgreSQL ``bigint``: a larger id or cursor can name no row, and the driver refuses to send it
(a 500 before this bound; found by fuzzing)."""

RowId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="A row id (a positive 64-bit integer)")]


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _not_a_number(value: Any) -> Any:
    """Pydantic also reads a number as a Unix time; the API documents ISO 8601 text only (found by fuzzing)."""
    if isinstance(value, str) and value[4:5] == "-" and value[:4].isdigit():
        return value  # a year and a dash, as ISO 8601 text starts: no number has a dash there
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("must be ISO 8601 text (YYYY-MM-DD, or with a time), not a number")
    return value


Day = Annotated[date, BeforeValidator(_not_a_number)]
"""A date as ISO 8601 text (``2024-06-10``)."""
Instant = Annotated[datetime, BeforeValidator(_not_a_number)]
"""A date and time as ISO 8601 text."""
AwareInstant = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""A date and time with its UTC offset, as ISO 8601 text."""

PersonId = Annotated[
    str, Field(pattern=PERSON_ID_PATTERN, description="PNC number (YY/NNNNNNNL) or local id (L-...)")
]
"""A person's id in a body: a PNC number or a force's local id."""

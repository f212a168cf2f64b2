"""How a person is named across dipflow: a PNC number (``YY/NNNNNNNL``) or a force's local id (``L-…``). The
one pattern every API, topic and import checks."""

from __future__ import annotations

import re

PERSON_ID_PATTERN = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"
PERSON_ID = re.compile(PERSON_ID_PATTERN)


def is_person_id(text: str) -> bool:
    return PERSON_ID.match(text) is not None


AREA_CODE_PATTERN = r"^[a-z][a-z0-9-]{1,59}$"
"""How an area (a borough or a force) is named: lower-case letters, digits and hyphens, as admins define them in
custody's reference data. The one pattern every API, topic and import checks."""
AREA_CODE = re.compile(AREA_CODE_PATTERN)

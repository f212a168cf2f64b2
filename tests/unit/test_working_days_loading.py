"""The bank holiday calendars load when dipflow.working_days is imported (a service's start), not on the first
working-day count (a request's event loop)."""

from __future__ import annotations

import subprocess
import sys


def test_the_calendars_are_loaded_by_the_import_not_by_the_first_count() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dipflow.working_days; print('holidays.countries.united_kingdom' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "True"

"""SQL lives in adapters: in a service, every SQL statement is in ``adapters/`` (or a migration); in the shared
library, only in the modules that are the backbone's own storage, named here. A statement anywhere else fails
this test with its file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SQL = re.compile(
    r"\b(SELECT\b[\s\S]+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|SCHEMA)"
    r"|ALTER\s+TABLE|DROP\s+(TABLE|SCHEMA)|TRUNCATE\s|pg_advisory\w*lock|NOTIFY\s)",
)
SHARED_STORAGE = {
    "db",  # connections, migrations, batched writes
    "audit.py",
    "events/outbox.py",
    "events/relay.py",
    "events/consumer.py",
    "events/deadlines.py",
    "events/timers.py",
    "events/replay.py",
    "http/idempotency.py",
    "http/app.py",  # readiness: SELECT 1
    "privacy",  # erasure log, pseudonymising rows, retention
    "ppo_copy.py",  # the shared local copy of the PPO register
    "reference_copy.py",  # the shared local copy of areas and suites (reference.v1)
    "alerts/store.py",  # the alerts every service keeps
    "webhooks.py",  # deliveries' bookkeeping in the tables a service names
    "devstack",  # the probe service and the local servers
}
"""The shared library's adapters: what stores the outbox, inbox, deadlines, audit, idempotency and privacy
records for every service."""


def _docstrings(tree: ast.Module) -> set[int]:
    owners = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)),
    ]
    found = set()
    for owner in owners:
        body = owner.body
        for i, statement in enumerate(body):
            # a docstring, or a string right after an assignment (an attribute's docstring)
            is_string = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            if is_string and (i == 0 or isinstance(body[i - 1], ast.Assign | ast.AnnAssign)):
                found.add(id(statement.value))  # type: ignore[attr-defined]
    return found


def sql_in(path: Path) -> list[tuple[int, str]]:
    """(line, the start of the statement) of every string literal that is SQL, docstrings aside."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            match = SQL.search(node.value)
            if match:
                found.append((node.lineno, match.group(0)[:40]))
    return found


def service_modules() -> list[Path]:
    return [
        p
        for p in sorted(ROOT.glob("services/*/src/*/**/*.py"))
        if "adapters" not in p.parts and "migrations" not in p.parts
    ]


def shared_modules() -> list[Path]:
    base = ROOT / "shared/src/dipflow"
    return [
        p
        for p in sorted(base.rglob("*.py"))
        if not any(
            p.relative_to(base).as_posix() == allowed
            or p.relative_to(base).as_posix().startswith(allowed + "/")
            for allowed in SHARED_STORAGE
        )
    ]


@pytest.mark.parametrize("path", service_modules() + shared_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_outside_adapters(path: Path) -> None:
    statements = sql_in(path)
    assert statements == [], f"{path.relative_to(ROOT)}: SQL outside adapters/ at lines {statements}"


def test_the_check_finds_sql_it_is_shown() -> None:
    probe = ROOT / "tests/unit/_sql_probe.py"
    probe.write_text('QUERY = "SELECT borough FROM ppo_register WHERE person_id = $1"\n')
    try:
        assert [text for _, text in sql_in(probe)] == ["SELECT borough FROM"]
    finally:
        probe.unlink()

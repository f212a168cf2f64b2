"""docs/rules.md and the code cite the same rule ids; what the page says decides a rule exists, and the tests it
names exist."""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "rules.md"
RULE_ID = re.compile(r"\b(T1[0-4]|T[1-9]|A[1-9]|B[1-4]|D[1-6]|P[1-3]|K[1-5]|CJCSA-Sch6)\b")
PENDING = "not yet in code"


@dataclass
class Entry:
    rule_id: str
    decided_by: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    pending: bool = False


def entries() -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    current: Entry | None = None
    for line in RULES.read_text().splitlines():
        heading = re.match(r"^### (\S+) — ", line)
        if heading:
            current = found.setdefault(heading.group(1), Entry(heading.group(1)))
        elif current is not None and line.startswith("- Decided by:"):
            current.decided_by = re.findall(r"`([^`]+)`", line)
            current.pending = PENDING in line
        elif current is not None and line.startswith("- Tests:"):
            current.tests = re.findall(r"`([^`]+)`", line)
    return found


def cited_in_code() -> dict[str, set[str]]:
    """Rule ids in the services' and the shared library's strings, docstrings and comments, with where."""
    cited: dict[str, set[str]] = {}
    for path in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("shared/src/**/*.py")]:
        text = path.read_text()
        words = [
            n.value
            for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        words += [
            t.string
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type == tokenize.COMMENT
        ]
        for word in words:
            for rule_id in RULE_ID.findall(word):
                cited.setdefault(rule_id, set()).add(str(path.relative_to(ROOT)))
    return cited


def test_every_rule_id_in_the_code_is_on_the_page_and_every_rule_on_the_page_is_in_the_code() -> None:
    documented = entries()
    cited = cited_in_code()
    missing = {rule_id: sorted(where) for rule_id, where in cited.items() if rule_id not in documented}
    assert not missing, f"cited in the code but not in docs/rules.md: {missing}"
    absent = [e.rule_id for e in documented.values() if not e.pending and e.rule_id not in cited]
    assert not absent, f"in docs/rules.md but cited nowhere in the code: {absent}"
    now_in_code = [e.rule_id for e in documented.values() if e.pending and e.rule_id in cited]
    assert not now_in_code, f"marked '{PENDING}' in docs/rules.md but the code cites them: {now_in_code}"


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("entry", [e for e in entries().values() if not e.pending], ids=lambda e: e.rule_id)
def test_the_code_named_as_deciding_each_rule_exists(entry: Entry) -> None:
    assert entry.decided_by, f"{entry.rule_id}: no 'Decided by'"
    for dotted in entry.decided_by:
        assert callable(_resolve(dotted)), dotted


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


@pytest.mark.parametrize("entry", [e for e in entries().values() if not e.pending], ids=lambda e: e.rule_id)
def test_the_tests_named_for_each_rule_exist(entry: Entry) -> None:
    assert entry.tests, f"{entry.rule_id}: no tests named"
    for named in entry.tests:
        file, _, name = named.partition("::")
        assert (ROOT / file).exists(), named
        assert name in _test_names(ROOT / file), named

"""Event schemas and the AsyncAPI document: current, valid, and changed only compatibly."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import Field

from dipflow.devstack.catalog import compatibility_problems, generated_documents
from dipflow.events import EventPayload
from dipflow.events.schemas import JSON_SCHEMA_DIALECT, asyncapi_document, breaking_changes, event_json_schema
from dipflow.topics import all_topics

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI_SCHEMA = ROOT / "tests/compose/node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json"


def test_generated_schemas_and_asyncapi_are_current() -> None:
    stale = [name for name, text in generated_documents().items() if _read(ROOT / "docs" / name) != text]
    assert not stale, f"run `.venv/bin/dipflow schemas`: stale {stale}"


def test_current_models_are_compatible_with_committed_schemas() -> None:
    assert compatibility_problems(ROOT / "docs") == []


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def test_every_committed_schema_declares_its_draft_and_is_a_valid_schema_of_it() -> None:
    files = sorted((ROOT / "docs/schemas").glob("*.json"))
    assert files
    for path in files:
        schema = json.loads(path.read_text())
        assert schema["$schema"] == JSON_SCHEMA_DIALECT, path.name
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_declared_draft_is_no_part_of_compatibility() -> None:
    new = _schema(**V1)
    assert new["$schema"] == JSON_SCHEMA_DIALECT
    without = {k: v for k, v in new.items() if k != "$schema"}
    assert breaking_changes(without, new) == []
    assert breaking_changes({**new, "$schema": "http://json-schema.org/draft-07/schema#"}, new) == []


# --- the compatibility rule, on models made for the purpose ------------------------------------------


class Drug(StrEnum):
    opiates = "opiates"
    cocaine = "cocaine"


def _schema(**fields: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "__annotations__": {},
        "event_type": "x.sample_taken",
        "topic": "custody.events.v1",
    }
    for name, (annotation, default) in fields.items():
        namespace["__annotations__"][name] = annotation
        if default is not ...:
            namespace[name] = default
    model = type("SampleTaken", (EventPayload,), namespace)
    return event_json_schema(model)


V1 = {"person_age": (int, ...), "drug": (Drug, ...), "note": (str | None, None)}


def test_adding_an_optional_field_or_rewording_is_compatible() -> None:
    v2 = {**V1, "suite": (str | None, Field(default=None, description="custody suite"))}
    assert breaking_changes(_schema(**V1), _schema(**v2)) == []


@pytest.mark.parametrize(
    ("change", "fields", "expected"),
    [
        ("remove a field", {k: v for k, v in V1.items() if k != "note"}, "payload.note: removed"),
        ("retype a field", {**V1, "person_age": (str, ...)}, "payload.person_age: type changed"),
        ("make optional required", {**V1, "note": (str, ...)}, "payload.note: now required"),
        ("add a required field", {**V1, "suite": (str, ...)}, "payload.suite: new required field"),
    ],
)
def test_breaking_changes_are_caught(change: str, fields: dict[str, Any], expected: str) -> None:
    assert expected in breaking_changes(_schema(**V1), _schema(**fields)), change


def test_dropping_an_enum_value_is_breaking() -> None:
    class Narrow(StrEnum):
        cocaine = "cocaine"

    changes = breaking_changes(_schema(**V1), _schema(**{**V1, "drug": (Narrow, ...)}))
    assert any("removed" in c or "type changed" in c for c in changes)


# --- AsyncAPI ---------------------------------------------------------------------------------------


class SampleRecorded(EventPayload):
    """A sample was taken in custody."""

    event_type = "test.sample_recorded"
    topic = "custody.events.v1"
    drug: Drug
    taken_by: str = Field(max_length=50)


def test_asyncapi_document_is_valid_asyncapi_3_and_every_reference_resolves() -> None:
    document = asyncapi_document(
        {"custody": [SampleRecorded]}, {"referral": ["custody.events.v1"]}, all_topics(), "0.0.0"
    )
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = list(validator.iter_errors(json.loads(json.dumps(document))))
    assert not errors, errors[0].message
    assert "test_sample_recorded_v1" in document["channels"]["custody_events_v1"]["messages"]
    for ref in _refs(document):
        _resolve(document, ref)


def test_the_committed_asyncapi_document_is_valid() -> None:
    document = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert validator.is_valid(document)
    assert {c["address"] for c in document["channels"].values()} == {t.name for t in all_topics()}


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_a_consumer_skips_other_types_of_a_known_producer_but_not_unknown_producers() -> None:
    from datetime import UTC, datetime

    from dipflow.events import EventRegistry, new_envelope
    from dipflow.events.envelope import SkippedEventType, UnknownEventType
    from dipflow_custody.events import ResultRecorded, WarningGiven
    from dipflow_ppo_register.consumed import CONSUMED

    def raw(payload: EventPayload) -> bytes:
        return new_envelope(
            payload, person_id="08/1X", producer="custody", occurred_at=datetime.now(UTC)
        ).to_bytes()

    with pytest.raises(SkippedEventType):
        CONSUMED.parse(raw(WarningGiven(detention_id="D1", suite="S")))
    result = ResultRecorded(detention_id="D1", suite="S", drug="cocaine", result="positive", disputed=False,
                            medication_declared=None, confirmation_required=False, age=30, home_area="camden")  # fmt: skip
    envelope, payload = CONSUMED.parse(raw(result))
    assert envelope.type == "custody.result_recorded" and payload.drug == "cocaine"  # type: ignore[attr-defined]
    with pytest.raises(UnknownEventType):
        EventRegistry().parse(raw(WarningGiven(detention_id="D1", suite="S")))

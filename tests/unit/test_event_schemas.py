"""Event schemas and the AsyncAPI document: current, valid, and changed only compatibly."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
import yaml
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError
from pydantic import Field

from dipflow.devstack.catalog import compatibility_problems, generated_documents
from dipflow.events import EventPayload
from dipflow.events.consumer import DeadLetter, EventConsumer
from dipflow.events.schemas import JSON_SCHEMA_DIALECT, asyncapi_document, breaking_changes, event_json_schema
from dipflow.topics import DLQ_SUFFIX, all_topics
from tests.support.events import positive_result

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


def test_widening_a_field_breaks_consumers_of_an_event_but_no_sender_of_a_command() -> None:
    widened = _schema(**{**V1, "person_age": (int | None, None)})
    assert "payload.person_age: type changed" in breaking_changes(_schema(**V1), widened)
    assert breaking_changes(_schema(**V1), widened, receiving=True) == []
    narrowed = _schema(**{**V1, "person_age": (str, ...)})
    assert "payload.person_age: type changed" in breaking_changes(_schema(**V1), narrowed, receiving=True)


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


def test_the_asyncapi_document_names_its_servers_keys_and_dead_letters() -> None:
    document = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    servers = document["servers"]
    assert servers["development"]["host"] == "127.0.0.1:9092"
    assert {s["protocol"] for s in servers.values()} == {"kafka"}
    assert all(s.get("description") for s in servers.values())
    assert (
        set(servers["production"]["variables"]) == {"bootstrap"}
        and "{bootstrap}" in servers["production"]["host"]
    )
    binding = _resolve(document, document["components"]["messages"]["dead_letter"]["bindings"]["$ref"])[
        "kafka"
    ]
    assert binding["bindingVersion"] == "0.5.0" and binding["key"]["type"] == "string"
    for name, message in document["components"]["messages"].items():
        assert _resolve(document, message["bindings"]["$ref"])["kafka"] == binding, name
    dead_letter = {"$ref": "#/components/messages/dead_letter"}
    for channel_id, channel in document["channels"].items():
        is_dlq = channel["address"].endswith(DLQ_SUFFIX)
        assert (channel["messages"] == {"dead_letter": dead_letter}) == is_dlq, channel_id
    operations = document["operations"]
    consumed = {
        (op_id.split("_receives_")[0], op["channel"]["$ref"])
        for op_id, op in operations.items()
        if op["action"] == "receive"
    }
    dead_lettering = {
        (op_id.split("_dead_letters_")[0], op["channel"]["$ref"].removesuffix("_dlq"))
        for op_id, op in operations.items()
        if "_dead_letters_" in op_id and op["action"] == "send"
    }
    assert consumed and dead_lettering == consumed  # every consumer may dead-letter what it consumes


class _Producer:
    """Records what the consumer sends; like a broker, refuses a value at the size limit once."""

    def __init__(self, too_large: bool) -> None:
        self.too_large = too_large
        self.sent: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        if self.too_large and value:
            raise MessageSizeTooLargeError()
        self.sent.append((topic, value, key, headers))


@pytest.mark.parametrize("too_large", [False, True], ids=["copied", "value-omitted"])
async def test_a_dead_letter_is_what_the_asyncapi_document_says(too_large: bool) -> None:
    document = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    message = document["components"]["messages"]["dead_letter"]
    headers_schema = _resolve(document, message["headers"]["$ref"])
    key_schema = _resolve(document, message["bindings"]["$ref"])["kafka"]["key"]
    consumer = EventConsumer(
        bootstrap="unused",
        pool=cast(Any, None),
        group_id="breach.events",
        topics=["custody.events.v1"],
        registry=cast(Any, None),
        handler=cast(Any, None),
        producer=cast(Any, None),
    )
    record = ConsumerRecord("custody.events.v1", 4, 1207, 0, 0, b"08/123456X", b"{not json", None, 10, 9, ())
    producer = _Producer(too_large)
    await consumer._dead_letter(
        cast(AIOKafkaProducer, producer), DeadLetter(record, "malformed-json", ValueError("Expecting value"))
    )
    [(topic, value, key, raw_headers)] = producer.sent
    headers = {name: raw.decode() for name, raw in raw_headers}
    assert topic == "custody.events.v1.dlq" and key == record.key
    assert value == (b"" if too_large else record.value)
    jsonschema.Draft7Validator(headers_schema).validate(headers)
    assert key is not None
    jsonschema.Draft7Validator(key_schema).validate(key.decode())
    optional = set(headers_schema["properties"]) - set(headers_schema["required"])
    assert set(headers) == set(headers_schema["properties"]) - (set() if too_large else optional)
    assert headers["dlq.original.partition"] == "4" and headers["dlq.original.offset"] == "1207"


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
    from dipflow_custody.contracts.events import WarningGiven
    from dipflow_ppo_register.contracts.consumed import CONSUMED, ResultRecordedView

    def raw(payload: EventPayload) -> bytes:
        return new_envelope(
            payload, person_id="08/1X", producer="custody", occurred_at=datetime.now(UTC)
        ).to_bytes()

    with pytest.raises(SkippedEventType):
        CONSUMED.parse(raw(WarningGiven(detention_id="D1", suite="S")))
    result = positive_result()
    envelope, payload = CONSUMED.parse(raw(result))
    assert envelope.type == "custody.result_recorded"
    assert isinstance(payload, ResultRecordedView) and payload.drug == "cocaine"
    with pytest.raises(UnknownEventType):
        EventRegistry().parse(raw(WarningGiven(detention_id="D1", suite="S")))


def test_a_consumer_passes_over_a_type_it_does_not_read_on_the_records_first_bytes() -> None:
    from datetime import UTC, datetime

    import orjson

    from dipflow.events import new_envelope
    from dipflow.events.envelope import SkippedEventType
    from dipflow_custody.contracts.events import WarningGiven
    from dipflow_ppo_register.contracts.consumed import CONSUMED

    envelope = new_envelope(
        WarningGiven(detention_id="D1", suite="S"),
        person_id="08/1X",
        producer="custody",
        occurred_at=datetime.now(UTC),
    )
    canonical = envelope.to_bytes()
    cut = canonical[: canonical.index(b'"version"')] + b"not json"
    with pytest.raises(SkippedEventType):  # never decoded: nothing after the type is read
        CONSUMED.parse(cut)
    reordered = orjson.dumps(dict(reversed(list(orjson.loads(canonical).items()))))
    with pytest.raises(SkippedEventType):  # another writer's key order: decoded, then passed over
        CONSUMED.parse(reordered)
    read = canonical.replace(b'"custody.warning_given"', b'"custody.result_recorded"', 1)
    with pytest.raises(ValueError):  # a type this consumer reads is decoded and validated in full
        CONSUMED.parse(read[: read.index(b'"version"')] + b"not json")


def test_a_record_as_the_envelope_writes_it_is_read_in_one_pass_to_what_two_steps_read() -> None:
    from datetime import UTC, datetime

    import orjson
    from pydantic import ValidationError

    from dipflow.events import new_envelope
    from dipflow.events.envelope import SkippedEventType
    from dipflow_ppo_register.contracts.consumed import CONSUMED, ResultRecordedView

    result = positive_result()
    canonical = new_envelope(
        result, person_id="08/1X", producer="custody", occurred_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    ).to_bytes()
    reordered = orjson.dumps(dict(reversed(list(orjson.loads(canonical).items()))))
    one_pass, typed = CONSUMED.parse(canonical)
    two_steps, checked = CONSUMED.parse(reordered)
    assert type(one_pass) is not type(two_steps)  # the typed envelope, and the plain one
    assert one_pass.model_dump(exclude={"payload"}) == two_steps.model_dump(exclude={"payload"})
    assert (
        isinstance(typed, ResultRecordedView) and typed == checked and cast(object, one_pass.payload) is typed
    )
    bad = canonical.replace(b'"drug":"cocaine"', b'"drug":7')
    assert bad != canonical
    with pytest.raises(ValidationError):
        CONSUMED.parse(bad)
    overridden = canonical[:-1] + b',"type":"custody.warning_given"}'  # a later duplicate key wins in JSON
    with pytest.raises(SkippedEventType):
        CONSUMED.parse(overridden)

"""Bad Kafka input for any consumed topic, built from one good envelope: malformed, truncated, oversized,
wrong-typed, of an unknown type, and replays of the good one. Each bad record says which dead-letter reason it
must get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dipflow.events import Envelope


@dataclass(frozen=True)
class BadRecord:
    what: str
    value: bytes
    reason: str  # the dlq.reason it must end with


def _with(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    head, *rest = path
    return {**payload, head: _with(payload[head], tuple(rest), value) if rest else value}


def bad_records(good: Envelope, limited_field: tuple[str, ...]) -> list[BadRecord]:
    """``limited_field`` is the path in the payload of a string field with a length limit."""
    raw = good.to_bytes()
    doc = orjson.loads(raw)
    wrong_type = {**doc, "version": "one"}
    bad_payload = {**doc, "payload": _with(doc["payload"], limited_field, ["not", "a", "string"])}
    oversized = {**doc, "payload": _with(doc["payload"], limited_field, "x" * 200_000)}
    unknown = {**doc, "type": doc["type"].rsplit(".", 1)[0] + ".no_such_thing"}
    return [
        BadRecord("not JSON", b"\x00\xffnot json at all", "malformed-json"),
        BadRecord("truncated", raw[: len(raw) // 2], "malformed-json"),
        BadRecord("envelope field of the wrong type", orjson.dumps(wrong_type), "schema-invalid"),
        BadRecord("payload field of the wrong type", orjson.dumps(bad_payload), "schema-invalid"),
        BadRecord("oversized field", orjson.dumps(oversized), "schema-invalid"),
        BadRecord("unknown type", orjson.dumps(unknown), "unknown-event-type"),
    ]

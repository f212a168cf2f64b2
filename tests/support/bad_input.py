"""Bad Kafka input for any consumed topic, built from one good envelope: malformed, truncated, empty, wrong-typed,
missing, oversized (a field, a record as large as a producer sends, a compressed record larger than that), of an
unknown type, version or producer, and a tombstone. Each says what the consumer must do with it: dead-letter it
with a reason, or pass over it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from dipflow.events import Envelope

# A producer with default settings sends records up to this size (aiokafka max_request_size, the Java client's
# max.request.size); the broker's default message.max.bytes is a few bytes more.
PRODUCER_LIMIT = 1_048_576
FIELD_SIZE = 200_000


@dataclass(frozen=True)
class BadRecord:
    what: str
    value: bytes | None
    reason: str | None  # the dlq.reason it must end with; None: passed over, never dead-lettered
    copied: bool = True  # the dead letter holds the original value (False: too large to copy, omitted)
    compressed: bool = False  # sent by a producer that compresses and allows records larger than the default


def _with(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    head, *rest = path
    return {**payload, head: _with(payload[head], tuple(rest), value) if rest else value}


def _without(payload: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    head, *rest = path
    if rest:
        return {**payload, head: _without(payload[head], tuple(rest))}
    return {k: v for k, v in payload.items() if k != head}


def _padded(doc: dict[str, Any], size: int) -> bytes:
    """``doc`` with its correlation id (at most 100 characters) grown until the record is ``size`` bytes."""
    short = orjson.dumps({**doc, "correlation_id": ""})
    return orjson.dumps({**doc, "correlation_id": "x" * (size - len(short))})


def bad_records(
    good: Envelope, field: tuple[str, ...], *, limited: bool, skipped: tuple[str, ...] = ()
) -> list[BadRecord]:
    """``field`` is the path in the payload of a string field the consumer reads; ``limited`` when the consumer
    limits its length (otherwise the oversized field is an envelope field, which always has a limit).
    ``skipped`` are the type prefixes whose other types the consumer passes over (``EventRegistry.skip_other``):
    an unknown type with such a prefix is passed over, any other unknown type is dead-lettered."""
    raw = good.to_bytes()
    doc = orjson.loads(raw)
    producer_prefix = doc["type"].split(".", 1)[0] + "."
    unknown_type = producer_prefix + "no_such_thing"
    oversized = (
        {**doc, "payload": _with(doc["payload"], field, "x" * FIELD_SIZE)}
        if limited
        else {**doc, "correlation_id": "x" * FIELD_SIZE}
    )
    return [
        BadRecord("not JSON", b"\x00\xffnot json at all", "malformed-json"),
        BadRecord("truncated", raw[: len(raw) // 2], "malformed-json"),
        BadRecord("empty value (not a tombstone)", b"", "malformed-json"),
        BadRecord("JSON that is not an object", b'["an", "array"]', "schema-invalid"),
        BadRecord(
            "envelope field of the wrong type", orjson.dumps({**doc, "version": "one"}), "schema-invalid"
        ),
        BadRecord("envelope field missing", orjson.dumps(_without(doc, ("event_id",))), "schema-invalid"),
        BadRecord(
            "payload field of the wrong type",
            orjson.dumps({**doc, "payload": _with(doc["payload"], field, ["not", "a", "string"])}),
            "schema-invalid",
        ),
        BadRecord(
            "payload field missing",
            orjson.dumps({**doc, "payload": _without(doc["payload"], field)}),
            "schema-invalid",
        ),
        BadRecord(f"oversized field ({FIELD_SIZE // 1000} kB)", orjson.dumps(oversized), "schema-invalid"),
        BadRecord(
            "oversized record (as large as a default producer sends)",
            _padded(doc, PRODUCER_LIMIT - 256),
            "schema-invalid",
            copied=False,
        ),
        BadRecord(
            "oversized record (3 MB, compressed by its producer)",
            _padded(doc, 3 * PRODUCER_LIMIT),
            "schema-invalid",
            copied=False,
            compressed=True,
        ),
        BadRecord(
            "unknown type of a known producer",
            orjson.dumps({**doc, "type": unknown_type}),
            None if unknown_type.startswith(skipped) else "unknown-event-type",
        ),
        BadRecord(
            "type of an unknown producer",
            orjson.dumps({**doc, "type": "elsewhere.something"}),
            "unknown-event-type",
        ),
        BadRecord(
            "unknown version of a known type", orjson.dumps({**doc, "version": 99}), "unknown-event-type"
        ),
        BadRecord("tombstone (null value)", None, None),
    ]


def sentinel() -> bytes:
    """A record every consumer dead-letters (malformed-json): once its dead letter is there, every record sent
    before it on the same key has been dealt with (a partition is processed in order, dead letters last)."""
    return b"sentinel " + uuid.uuid4().hex.encode()

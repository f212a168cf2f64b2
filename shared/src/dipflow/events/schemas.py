"""JSON Schemas of the events, the AsyncAPI 3 document of the topics, and the compatibility rule.

A change to a payload model that would break existing consumers — removing a field, changing its type,
making an optional field required, dropping an enum value — needs a new ``event_version``; the old version's
schema stays in ``docs/schemas`` and keeps being checked.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dipflow.events.envelope import Envelope, EventPayload
from dipflow.settings import ServiceSettings
from dipflow.topics import DLQ_SUFFIX, TopicSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDINGS_VERSION = "0.5.0"
DEVELOPMENT_BOOTSTRAP: str = ServiceSettings.model_fields["kafka_bootstrap"].default
DEAD_LETTER = "dead_letter"
PERSON_KEY = "PersonKey"
PERSON_KEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "description": (
        "The person id (the envelope's `person_id`), UTF-8: all of a person's records are on one partition,"
        " in the order they were written. A dead letter keeps its original record's key."
    ),
    "examples": ["08/123456X"],
}
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}
DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Kafka record headers, each UTF-8 text, set by the consumer that gave up on the record.",
    "required": [
        "dlq.reason",
        "dlq.exception",
        "dlq.message",
        "dlq.original.topic",
        "dlq.original.partition",
        "dlq.original.offset",
        "dlq.consumer.group",
        "dlq.failed.at",
    ],
    "properties": {
        "dlq.reason": {
            "type": "string",
            "description": (
                "Why: `malformed-json` (not JSON), `schema-invalid` (the envelope or its payload fails its"
                " schema), `unknown-event-type` (a type and version this consumer has no model for and does"
                " not skip), `handler-failed-<n>-times` (the handler raised <n> times,"
                " 3 unless configured), or a reason the handler refused the record with for good, such as"
                " `rule-violation`, `unknown-drug`, `unknown-offence-code`, `unknown-suite`,"
                " `unknown-detention` or `key-mismatch` (custody commands)."
            ),
            "examples": ["schema-invalid", "handler-failed-3-times", "rule-violation"],
        },
        "dlq.exception": {
            "type": "string",
            "description": "The class name of the exception (empty when there was none)",
            "examples": ["ValidationError", "Rejected"],
        },
        "dlq.message": {
            "type": "string",
            "maxLength": 500,
            "description": (
                "The exception's message, at most 500 characters (empty when there was none). For a schema"
                " failure only each failing field's location and the reason, never its value."
            ),
        },
        "dlq.original.topic": {"type": "string", "description": "The topic the record was read from"},
        "dlq.original.partition": {**_DIGITS, "description": "Its partition, in decimal"},
        "dlq.original.offset": {**_DIGITS, "description": "Its offset in that partition, in decimal"},
        "dlq.consumer.group": {
            "type": "string",
            "description": "The consumer group that dead-lettered it (one per consuming service and purpose)",
        },
        "dlq.failed.at": {
            "type": "string",
            "format": "date-time",
            "description": "When it was dead-lettered (ISO 8601, UTC)",
        },
        "dlq.value.omitted": {
            "type": "string",
            "description": (
                "Only when the original value was too large to copy with these headers:"
                " `<n> bytes, too large to copy`. The dead letter's value is then empty; read the original"
                " at `dlq.original.topic`/`partition`/`offset`."
            ),
            "examples": ["1048520 bytes, too large to copy"],
        },
    },
}
DEAD_LETTER_VALUE: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "description": (
        "The original record's value, byte for byte: usually an Envelope (JSON), but it may be anything (it is"
        " here because it could not be applied); empty when `dlq.value.omitted` is set."
    ),
}


def schema_name(model: type[EventPayload]) -> str:
    return f"{model.event_type}.v{model.event_version}"


def event_json_schema(model: type[EventPayload]) -> dict[str, Any]:
    schema = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema(mode="serialization")}
    schema["title"] = schema_name(model)
    if model.summary or model.__doc__:
        schema["description"] = (model.summary or model.__doc__ or "").strip()
    schema["x-event-type"] = model.event_type
    schema["x-event-version"] = model.event_version
    schema["x-topic"] = model.topic
    return schema


def envelope_json_schema() -> dict[str, Any]:
    schema = {"$schema": JSON_SCHEMA_DIALECT, **Envelope.model_json_schema(mode="serialization")}
    schema["title"] = "Envelope"
    return schema


def _signature(prop: dict[str, Any]) -> Any:
    """What a consumer relies on about a field's type (descriptions and defaults do not matter)."""
    keys = ("type", "$ref", "format", "items", "anyOf", "oneOf", "allOf", "const", "additionalProperties")
    return {k: _strip(prop[k]) for k in keys if k in prop}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip(v) for k, v in value.items() if k not in ("title", "description", "default", "examples")
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _widened(old_prop: dict[str, Any], new_prop: dict[str, Any]) -> bool:
    """The new type accepts everything the old one did: the old type is one of the new ``anyOf`` choices."""
    old_sig = _signature(old_prop)
    return any(_signature(choice) == old_sig for choice in new_prop.get("anyOf", []))


def _object_changes(
    where: str, old: dict[str, Any], new: dict[str, Any], *, receiving: bool = False
) -> list[str]:
    changes: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            changes.append(f"{where}.{name}: removed")
            continue
        new_prop = new_props[name]
        old_enum, new_enum = old_prop.get("enum"), new_prop.get("enum")
        if old_enum is not None and new_enum is not None:
            dropped = [v for v in old_enum if v not in new_enum]
            if dropped:
                changes.append(f"{where}.{name}: enum values removed {dropped}")
        elif (
            _signature(old_prop) != _signature(new_prop) or (old_enum is None) != (new_enum is None)
        ) and not (receiving and _widened(old_prop, new_prop)):
            changes.append(f"{where}.{name}: type changed")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        changes.append(
            f"{where}.{name}: now required" if name in old_props else f"{where}.{name}: new required field"
        )
    return changes


def breaking_changes(old: dict[str, Any], new: dict[str, Any], *, receiving: bool = False) -> list[str]:
    """The changes from ``old`` to ``new`` that existing consumers would not survive. Only the fields count:
    the dialect (``$schema``), titles and descriptions do not. ``receiving``: the schema is of a command the
    service receives from outside systems, so widening a field's type (a code becoming optional) breaks no
    sender; narrowing it, removing it or requiring a new one still does."""
    old, new = _without_dialect(old), _without_dialect(new)
    changes = _object_changes("payload", old, new, receiving=receiving)
    old_defs: dict[str, Any] = old.get("$defs", {})
    new_defs: dict[str, Any] = new.get("$defs", {})
    for name, old_def in old_defs.items():
        if name not in new_defs:
            if any(f"#/$defs/{name}" in str(p) for p in old.get("properties", {}).values()):
                changes.append(f"$defs.{name}: removed")
            continue
        if "enum" in old_def and "enum" in new_defs[name]:
            dropped = [v for v in old_def["enum"] if v not in new_defs[name]["enum"]]
            if dropped:
                changes.append(f"$defs.{name}: enum values removed {dropped}")
        else:
            changes.extend(_object_changes(f"$defs.{name}", old_def, new_defs[name], receiving=receiving))
    return changes


def _without_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def asyncapi_document(
    producers: Mapping[str, Sequence[type[EventPayload]]],
    consumers: Mapping[str, Sequence[str]],
    topics: Iterable[TopicSpec],
    version: str,
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document: the servers, one channel per topic, one message per event type and version,
    and the dead letters each consumer sends to ``<topic>.dlq``."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    key_binding = {"$ref": f"#/components/messageBindings/{PERSON_KEY}"}
    messages: dict[str, Any] = {DEAD_LETTER: _dead_letter_message(key_binding)}
    schemas: dict[str, Any] = {
        "Envelope": _refs_to_components(envelope_json_schema()),
        "DeadLetterHeaders": copy.deepcopy(DEAD_LETTER_HEADERS),
        "DeadLetterValue": copy.deepcopy(DEAD_LETTER_VALUE),
    }
    channel_ids = {spec.name: spec.name.replace(".", "_") for spec in topics}
    for spec in topics:
        channels[channel_ids[spec.name]] = {
            "address": spec.name,
            "description": _channel_description(spec),
            "messages": {},
        }
        if spec.name.endswith(DLQ_SUFFIX):
            channels[channel_ids[spec.name]]["messages"][DEAD_LETTER] = {
                "$ref": f"#/components/messages/{DEAD_LETTER}"
            }
    for service, models in sorted(producers.items()):
        for model in models:
            message_id = schema_name(model).replace(".", "_")
            payload_id = message_id + "_payload"
            schemas[payload_id] = _refs_to_components(event_json_schema(model), prefix=payload_id)
            messages[message_id] = {
                "name": model.event_type,
                "title": schema_name(model),
                "summary": (model.summary or model.__doc__ or model.event_type).strip().splitlines()[0],
                "contentType": "application/json",
                "payload": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Envelope"},
                        {
                            "type": "object",
                            "properties": {"payload": {"$ref": f"#/components/schemas/{payload_id}"}},
                        },
                    ]
                },
                "bindings": dict(key_binding),
                "x-producer": service,
            }
            channel = channels[channel_ids[model.topic]]
            channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}
            op_id = f"{service.replace('-', '_')}_sends_{message_id}"
            operations[op_id] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_ids[model.topic]}"},
                "messages": [{"$ref": f"#/channels/{channel_ids[model.topic]}/messages/{message_id}"}],
            }
    for service, topic_names in sorted(consumers.items()):
        for topic in topic_names:
            operations[f"{service.replace('-', '_')}_receives_{channel_ids[topic]}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_ids[topic]}"},
            }
    for service, topic_names in sorted(consumers.items()):
        for topic in topic_names:
            dlq = channel_ids[topic + DLQ_SUFFIX]
            operations[f"{service.replace('-', '_')}_dead_letters_{channel_ids[topic]}"] = {
                "action": "send",
                "summary": f"{service} dead-letters the records of {topic} it cannot apply",
                "channel": {"$ref": f"#/channels/{dlq}"},
                "messages": [{"$ref": f"#/channels/{dlq}/messages/{DEAD_LETTER}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dipflow events",
            "version": version,
            "description": (
                "Every topic of dipflow. Each record is an Envelope (JSON) keyed by person id. A record that"
                " a consumer cannot apply goes, unchanged, to the topic's dead-letter twin `<topic>.dlq` with"
                " `dlq.*` headers that say why."
            ),
        },
        "servers": _servers(),
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "messageBindings": {
                PERSON_KEY: {
                    "kafka": {
                        "key": copy.deepcopy(PERSON_KEY_SCHEMA),
                        "bindingVersion": KAFKA_BINDINGS_VERSION,
                    }
                }
            },
        },
    }


def _servers() -> dict[str, Any]:
    return {
        "development": {
            "host": DEVELOPMENT_BOOTSTRAP,
            "protocol": "kafka",
            "title": "Local development broker",
            "description": (
                "The single-node KRaft broker that `make run` and `dipflow infra up` start on loopback:"
                " PLAINTEXT, no authentication, topics created by the project (auto-create is off)."
            ),
        },
        "production": {
            "host": "{bootstrap}",
            "protocol": "kafka",
            "title": "Production cluster (placeholder)",
            "description": (
                "A deployment's own cluster: the same topics, created with the same partition counts"
                " (`dipflow.topics`). Its address, listener security and credentials are the operator's."
            ),
            "variables": {
                "bootstrap": {
                    "description": "host:port of one of the cluster's bootstrap brokers",
                    "examples": ["kafka-1.example.internal:9092"],
                }
            },
        },
    }


def _channel_description(spec: TopicSpec) -> str:
    partitions = f"{spec.partitions} partition{'s' if spec.partitions != 1 else ''}"
    if spec.name.endswith(DLQ_SUFFIX):
        kept = ", kept for ever" if spec.config.get("retention.ms") == "-1" else ""
        original = spec.name.removesuffix(DLQ_SUFFIX)
        return (
            f"Dead letters of {original}: each record its consumers could not apply, copied with its key and"
            f" value unchanged and dlq.* headers that say why ({partitions}{kept})"
        )
    description = f"{partitions}, key = person id"
    if spec.compacted:
        description += ", compacted (latest value per person; tombstone on removal)"
    return description


def _dead_letter_message(key_binding: dict[str, str]) -> dict[str, Any]:
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A record a consumer could not apply, with the reason",
        "description": (
            "Sent by a consumer that gives up on a record: one that cannot be parsed, has an unknown type, fails"
            " its schema, is refused by its handler, or fails its handler 3 times. The key and value are the"
            " original record's; the `dlq.*` headers say why and where it came from. The consumer carries on"
            " with the next record. To re-drive one, fix the cause and produce the value, unchanged, to"
            " `dlq.original.topic` with the same key: consumers deduplicate by event id."
        ),
        "contentType": "application/octet-stream",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"$ref": "#/components/schemas/DeadLetterValue"},
        "bindings": dict(key_binding),
    }


def _refs_to_components(schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Inline ``$defs`` under component-unique names so every ``$ref`` resolves inside the document. The JSON
    Schema dialect is dropped: AsyncAPI schemas are its own format (a superset of draft 7)."""
    schema.pop("$schema", None)
    defs = schema.pop("$defs", {})
    text_schema: dict[str, Any] = _rewrite(schema, prefix)
    if defs:
        text_schema["$defs"] = {name: _rewrite(d, prefix) for name, d in defs.items()}
    return text_schema


def _rewrite(value: Any, prefix: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/"):
                owner = prefix or "Envelope"
                out[k] = f"#/components/schemas/{owner}/$defs/{v.removeprefix('#/$defs/')}"
            else:
                out[k] = _rewrite(v, prefix)
        return out
    if isinstance(value, list):
        return [_rewrite(v, prefix) for v in value]
    return value

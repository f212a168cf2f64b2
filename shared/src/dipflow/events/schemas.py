"""JSON Schemas of the events, the AsyncAPI 3 document of the topics, and the compatibility rule.

A change to a payload model that would break existing consumers — removing a field, changing its type,
making an optional field required, dropping an enum value — needs a new ``event_version``; the old version's
schema stays in ``docs/schemas`` and keeps being checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dipflow.events.envelope import Envelope, EventPayload
from dipflow.topics import TopicSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


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


def _object_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
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
        elif _signature(old_prop) != _signature(new_prop) or (old_enum is None) != (new_enum is None):
            changes.append(f"{where}.{name}: type changed")
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        changes.append(
            f"{where}.{name}: now required" if name in old_props else f"{where}.{name}: new required field"
        )
    return changes


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The changes from ``old`` to ``new`` that existing consumers would not survive. Only the fields count:
    the dialect (``$schema``), titles and descriptions do not."""
    old, new = _without_dialect(old), _without_dialect(new)
    changes = _object_changes("payload", old, new)
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
            changes.extend(_object_changes(f"$defs.{name}", old_def, new_defs[name]))
    return changes


def _without_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def asyncapi_document(
    producers: Mapping[str, Sequence[type[EventPayload]]],
    consumers: Mapping[str, Sequence[str]],
    topics: Iterable[TopicSpec],
    version: str,
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel per topic, one message per event type and version."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Envelope": _refs_to_components(envelope_json_schema())}
    channel_ids = {spec.name: spec.name.replace(".", "_") for spec in topics}
    for spec in topics:
        description = f"{spec.partitions} partitions, key = person id"
        if spec.compacted:
            description += ", compacted (latest value per person; tombstone on removal)"
        if spec.name.endswith(".dlq"):
            description = "Dead letters: the original record with dlq.* headers giving the reason"
        channels[channel_ids[spec.name]] = {"address": spec.name, "description": description, "messages": {}}
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
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dipflow events",
            "version": version,
            "description": "Every topic of dipflow. Each record is an Envelope (JSON) keyed by person id.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
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

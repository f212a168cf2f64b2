"""Every event on every topic is an :class:`Envelope` around a versioned payload model.

``occurred_at`` is when it happened in the world (the arrest, the sample); ``recorded_at`` is when the
system wrote it. ``person_id`` is the Kafka key, so all of a person's events share one partition and keep
their order. Payload models declare ``event_type`` and ``event_version``; a producing service keeps all of
its payload models in one module and registers them in an :class:`EventRegistry`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model


class EventPayload(BaseModel):
    """Base of every payload model. Unknown fields are refused so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]
    summary: ClassVar[str] = ""


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.]*$")
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    person_id: str = Field(min_length=1, max_length=64)
    correlation_id: str = Field(min_length=1, max_length=100)
    causation_id: str | None = Field(default=None, max_length=100)
    producer: str = Field(min_length=1, max_length=50)
    payload: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @property
    def key(self) -> bytes:
        return self.person_id.encode()


def new_envelope(
    payload: EventPayload,
    *,
    person_id: str,
    producer: str,
    occurred_at: datetime,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Wrap ``payload``; when caused by a consumed event, carry its correlation id and name it as cause."""
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        type=payload.event_type,
        version=payload.event_version,
        occurred_at=occurred_at,
        recorded_at=datetime.now(UTC),
        person_id=person_id,
        correlation_id=correlation_id or (causation.correlation_id if causation else str(uuid.uuid4())),
        causation_id=str(causation.event_id) if causation else None,
        producer=producer,
        payload=payload.model_dump(mode="json"),
    )


def encode_event(
    payload: EventPayload,
    *,
    person_id: str,
    producer: str,
    occurred_at: datetime,
    correlation_id: str,
    causation_id: str | None = None,
) -> tuple[uuid.UUID, bytes]:
    """A new event's id and its record value: the bytes ``new_envelope(...).to_bytes()`` writes for the same
    fields, without building the :class:`Envelope` (the payload was validated when it was made). Refuses what
    the envelope would: a time without an offset, an empty or over-long person, correlation, cause or producer."""
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise ValueError("occurred_at needs a UTC offset")
    for name, text, longest in (
        ("person_id", person_id, 64),
        ("correlation_id", correlation_id, 100),
        ("producer", producer, 50),
    ):
        if not 0 < len(text) <= longest:
            raise ValueError(f"{name} must be 1 to {longest} characters")
    if causation_id is not None and len(causation_id) > 100:
        raise ValueError("causation_id must be at most 100 characters")
    event_id = uuid.uuid4()
    fields = {
        "event_id": event_id,
        "type": payload.event_type,
        "version": payload.event_version,
        "occurred_at": occurred_at,
        "recorded_at": datetime.now(UTC),
        "person_id": person_id,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "producer": producer,
        "payload": orjson.Fragment(payload.__pydantic_serializer__.to_json(payload)),
    }
    return event_id, orjson.dumps(fields, option=orjson.OPT_UTC_Z)


_CANONICAL_START = re.compile(
    rb'\{"event_id":"[0-9a-f-]{36}","type":"([a-z][a-z0-9_.]{0,99})"(?:,"version":(\d{1,9}),)?'
)
"""How :meth:`Envelope.to_bytes` starts (fields in declaration order): type and version read without decoding."""


def _typed_envelope(model: type[EventPayload]) -> type[Envelope]:
    """The envelope whose payload is ``model``: one validation from bytes to the typed payload, no dict between."""
    return create_model(f"Envelope[{model.__name__}]", __base__=Envelope, payload=(model, ...))


class UnknownEventType(LookupError):
    pass


class SkippedEventType(LookupError):
    """A well-formed event of a type this consumer does not need."""


class EventRegistry:
    """The payload models a consumer understands, by (type, version).

    ``skip_other`` names type prefixes (``"custody."``) whose other types this consumer does not need: those are
    passed over (see ``is_skipped``), while a type from no known producer is still an error.
    """

    def __init__(self, *models: type[EventPayload], skip_other: tuple[str, ...] = ()) -> None:
        self._models: dict[tuple[str, int], type[EventPayload]] = {}
        self._envelopes: dict[tuple[str, int], type[Envelope]] = {}
        self._types: set[str] = set()
        self.skip_other = skip_other
        for model in models:
            self.register(model)

    def is_skipped(self, type_: str) -> bool:
        """An event type of a known producer that this consumer does not model."""
        if not self.skip_other or not type_.startswith(self.skip_other):
            return False
        return type_ not in self._types

    def register(self, model: type[EventPayload]) -> None:
        key = (model.event_type, model.event_version)
        if key in self._models and self._models[key] is not model:
            raise ValueError(f"two payload models claim {key}")
        self._models[key] = model
        self._envelopes[key] = _typed_envelope(model)
        self._types.add(model.event_type)

    def __iter__(self) -> Any:
        return iter(sorted(self._models.values(), key=lambda m: (m.event_type, m.event_version)))

    def model_for(self, type_: str, version: int) -> type[EventPayload]:
        try:
            return self._models[(type_, version)]
        except KeyError:
            raise UnknownEventType(f"unknown event type {type_!r} version {version}") from None

    def parse(self, raw: bytes) -> tuple[Envelope, EventPayload]:
        """Decode and validate one record value. Raises ValueError/ValidationError/UnknownEventType, and
        SkippedEventType for a type ``skip_other`` passes over: one written as :meth:`Envelope.to_bytes` writes
        is passed over on its first bytes, without decoding the rest (a record this consumer does not read is
        not its to judge). A record so written of a registered type and version is validated in one pass, into
        its typed envelope (an :class:`Envelope` whose ``payload`` is the model returned beside it, not a dict);
        any other goes envelope first, then payload."""
        start = _CANONICAL_START.match(raw)
        if start is not None:
            type_ = start.group(1).decode()
            if self.skip_other and self.is_skipped(type_):
                raise SkippedEventType(type_)
            key = (type_, int(start.group(2) or 0))
            typed = self._envelopes.get(key)
            if typed is not None:
                envelope = typed.model_validate_json(raw)
                if (envelope.type, envelope.version) == key:  # not so if a later duplicate key overrode them
                    return envelope, envelope.payload  # type: ignore[return-value]  # the typed subclass's model
        envelope = Envelope.model_validate_json(raw)
        if self.is_skipped(envelope.type):
            raise SkippedEventType(envelope.type)
        model = self.model_for(envelope.type, envelope.version)
        return envelope, model.model_validate(envelope.payload)


__all__ = [
    "Envelope",
    "EventPayload",
    "EventRegistry",
    "SkippedEventType",
    "UnknownEventType",
    "ValidationError",
    "encode_event",
    "new_envelope",
]

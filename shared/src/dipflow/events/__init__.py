"""The event backbone: envelope and schemas, transactional outbox, idempotent inbox, dead letters,
durable timers and replay (docs/architecture.md, "Delivery guarantees")."""

from dipflow.events.envelope import Envelope, EventPayload, EventRegistry, new_envelope

__all__ = ["Envelope", "EventPayload", "EventRegistry", "new_envelope"]

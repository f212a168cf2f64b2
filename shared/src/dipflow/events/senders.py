"""Who sent a record from outside the system, proven: a sending system signs each record's value with its own
key (HMAC-SHA256) and names itself in the headers; the consumer checks both before the record is applied.

The broker's ACLs decide which principal may write a topic at all; the signature says which of the systems
sharing that principal sent this record, so a service can hold each system to what it may act for (custody:
the suites of its areas). A record without a valid signature is refused for good (dead-lettered with the
reason), never applied.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.structs import ConsumerRecord

from dipflow.events.envelope import Envelope
from dipflow.events.errors import Rejected

SENDER_HEADER = "dipflow-sender"
SIGNATURE_HEADER = "dipflow-signature"

RecordCheck = Callable[[ConsumerRecord[Any, Any], Envelope], None]
"""Raises :class:`Rejected` for a record that may not be applied; called after parsing, before the handler."""


def signature(key: str, value: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), value, hashlib.sha256).hexdigest()


def signed_headers(sender: str, key: str, value: bytes) -> list[tuple[str, bytes]]:
    """The headers a sending system puts on a record whose value is ``value``."""
    return [(SENDER_HEADER, sender.encode()), (SIGNATURE_HEADER, signature(key, value).encode())]


@dataclass(frozen=True)
class Sender:
    name: str
    key: str


def sender_check(senders: Mapping[str, Sender]) -> RecordCheck:
    """Accepts a record only from a known sender, with that sender's valid signature over the exact value,
    and whose envelope names the same sender as its producer."""

    def check(record: ConsumerRecord[Any, Any], envelope: Envelope) -> None:
        headers = {name: value for name, value in (record.headers or ())}
        name = (headers.get(SENDER_HEADER) or b"").decode(errors="replace")
        sender = senders.get(name)
        if sender is None:
            raise Rejected(
                "unknown-sender", f"no sending system {name!r} is registered (header {SENDER_HEADER})"
            )
        claimed = (headers.get(SIGNATURE_HEADER) or b"").decode(errors="replace")
        if not hmac.compare_digest(signature(sender.key, record.value or b""), claimed):
            raise Rejected("bad-signature", f"the record is not signed with {name}'s key")
        if envelope.producer != name:
            raise Rejected(
                "sender-mismatch", f"signed by {name} but the envelope's producer is {envelope.producer}"
            )

    return check

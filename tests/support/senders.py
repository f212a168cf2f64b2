"""Signed commands from outside systems in tests (dipflow.events.senders): the senders a test's custody
registers, and the headers that prove a record came from one of them."""

from __future__ import annotations

from pydantic import SecretStr

from dipflow.events import Envelope
from dipflow.events.senders import signed_headers
from dipflow_custody.settings import CommandSender

KEY = "test-signing-key-" + "k" * 20
ELSEWHERE = "suite-system-elsewhere"
"""A registered sender acting for another force only."""

COMMAND_SENDERS = {
    "suite": CommandSender(key=SecretStr(KEY), areas=["*"]),
    "suite-system-brixton": CommandSender(key=SecretStr(KEY), areas=["metropolitan"]),
    ELSEWHERE: CommandSender(key=SecretStr(KEY), areas=["no-such-force"]),
}


def signed(envelope: Envelope, key: str = KEY) -> list[tuple[str, bytes]]:
    """The headers of ``envelope`` signed as its producer with ``key``."""
    return signed_headers(envelope.producer, key, envelope.to_bytes())


def signed_value(value: bytes) -> list[tuple[str, bytes]]:
    """Headers for raw bytes as the ``suite`` sender would sign them (bad records are signed too: what they
    are refused for is their content, not who sent them)."""
    return signed_headers("suite", KEY, value)

"""Kafka ACLs as data, and creating them through the broker's CreateAcls API.

aiokafka has the protocol messages but no admin method for them, so :func:`create_acls` sends the requests
itself (one binding each; the broker answers per binding and any error is raised).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from dipflow.kafka.connection import kafka_options


class Resource(enum.IntEnum):
    TOPIC = 2
    GROUP = 3


class Pattern(enum.IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(enum.IntEnum):
    READ = 3
    WRITE = 4
    DESCRIBE = 8


ALLOW = 3


@dataclass(frozen=True, order=True)
class Acl:
    """``principal`` may do ``operation`` on the ``resource`` named ``name`` (exactly, or as a prefix)."""

    principal: str
    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = Pattern.LITERAL

    def describe(self) -> str:
        what = f"{self.name}*" if self.pattern is Pattern.PREFIXED else self.name
        return f"User:{self.principal} {self.operation.name} {self.resource.name.lower()} {what}"


def may_produce(principal: str, topic: str) -> list[Acl]:
    return [Acl(principal, Resource.TOPIC, topic, op) for op in (Operation.WRITE, Operation.DESCRIBE)]


def may_consume(principal: str, topic: str) -> list[Acl]:
    return [Acl(principal, Resource.TOPIC, topic, op) for op in (Operation.READ, Operation.DESCRIBE)]


def may_use_groups(principal: str, prefix: str) -> list[Acl]:
    return [Acl(principal, Resource.GROUP, prefix, Operation.READ, Pattern.PREFIXED)]


async def create_acls(admin_address: str, acls: list[Acl]) -> None:
    """Create every binding (creating one that exists is a no-op for the broker)."""
    admin = AIOKafkaAdminClient(**kafka_options(admin_address), request_timeout_ms=30000)
    await admin.start()
    try:
        for acl in acls:
            request = CreateAclsRequest(
                acl.resource, acl.name, acl.pattern, f"User:{acl.principal}", "*", acl.operation, ALLOW
            )
            response = await admin._send_request(request)  # no public method for CreateAcls
            for error_code, error_message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"creating ACL {acl.describe()}: error {error_code} {error_message}")
    finally:
        await admin.close()

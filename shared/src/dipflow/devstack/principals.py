"""Who may do what on the broker: one Kafka principal per service, one per kind of outside system.

A service writes its own topics, the erasure confirmations and the dead letters of what it consumes; reads what
it consumes; uses only consumer groups named ``<service>.``. Custody suite systems write custody's commands and
probation systems probation's events, nothing else. ``admin`` (topics, ACLs, operators' tools) is the only
super user with ``controller`` (the brokers among themselves); nothing is allowed when no ACL says so.
"""

from __future__ import annotations

import importlib

from dipflow.devstack.catalog import consumers
from dipflow.devstack.services import CUSTODY_SYSTEM as CUSTODY_SYSTEM
from dipflow.devstack.services import SERVICES
from dipflow.kafka.acls import Acl, may_consume, may_produce, may_use_groups
from dipflow.topics import CUSTODY_COMMANDS, DLQ_SUFFIX, PRIVACY_REQUESTS, PROBATION_EVENTS

ADMIN = "admin"
CONTROLLER = "controller"
PROBATION_SYSTEM = "probation-system"
SUPER_USERS = (ADMIN, CONTROLLER)
SYSTEMS = {CUSTODY_SYSTEM: CUSTODY_COMMANDS.name, PROBATION_SYSTEM: PROBATION_EVENTS.name}
PRINCIPALS: tuple[str, ...] = (ADMIN, *(spec.name for spec in SERVICES), *SYSTEMS)
"""Every SCRAM principal (``controller`` authenticates with PLAIN on the controller listener only)."""


def produced_topics(service: str) -> list[str]:
    """The topics of a service's own events, and the erasure confirmations every service sends."""
    package = next(spec.package for spec in SERVICES if spec.name == service)
    events = importlib.import_module(f"{package}.contracts.events").EVENTS
    return sorted({model.topic for model in events} | {PRIVACY_REQUESTS.name})


def service_acls(service: str) -> list[Acl]:
    acls: list[Acl] = []
    for topic in produced_topics(service):
        acls += may_produce(service, topic)
    for topic in consumers()[service]:
        acls += may_consume(service, topic)
        acls += may_produce(service, topic + DLQ_SUFFIX)
    acls += may_use_groups(service, f"{service}.")
    return sorted(set(acls))


def all_acls() -> list[Acl]:
    """The whole table: the services', then the outside systems'."""
    acls = [acl for spec in SERVICES for acl in service_acls(spec.name)]
    for system, topic in SYSTEMS.items():
        acls += may_produce(system, topic)
    return acls

"""The topic catalogue: every topic the system uses, with its partition count and cleanup policy.

Topics are created by the project (``dipflow infra up``, ``make run``, test fixtures), never by broker
auto-create, so partition counts are deliberate. The record key is always the person id, so all events about
one person are ordered on one partition (on the reference topic, the record's kind and code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    config: dict[str, str] = field(default_factory=dict)

    def broker_config(self) -> dict[str, str]:
        config = dict(self.config)
        if self.compacted:
            config.setdefault("cleanup.policy", "compact")
        return config

    def dead_letter(self) -> TopicSpec:
        return TopicSpec(self.name + DLQ_SUFFIX, partitions=1, config={"retention.ms": "-1"})


CUSTODY_COMMANDS = TopicSpec("custody.commands.v1", partitions=6)
CUSTODY_EVENTS = TopicSpec("custody.events.v1", partitions=6)
REFERRAL_EVENTS = TopicSpec("referral.events.v1", partitions=6)
PPO_REGISTER = TopicSpec("ppo.register.v1", partitions=6, compacted=True)
BREACH_EVENTS = TopicSpec("breach.events.v1", partitions=6)
PROBATION_EVENTS = TopicSpec("probation.events.v1", partitions=6)
REFERENCE = TopicSpec("reference.v1", partitions=3, compacted=True)
"""Areas and custody suites as a force manages them (custody's admin API), keyed ``area:<code>`` or
``suite:<code>``: each record carries its whole history, so compaction keeps it."""
# Erasure requests name the person: kept 7 days, long enough for any service to be back and consume them.
PRIVACY_REQUESTS = TopicSpec(
    "privacy.requests.v1", partitions=3, config={"retention.ms": str(7 * 24 * 3600 * 1000)}
)

MAIN_TOPICS: tuple[TopicSpec, ...] = (
    CUSTODY_COMMANDS,
    CUSTODY_EVENTS,
    REFERRAL_EVENTS,
    PPO_REGISTER,
    BREACH_EVENTS,
    PROBATION_EVENTS,
    PRIVACY_REQUESTS,
    REFERENCE,
)


def all_topics(prefix: str = "") -> list[TopicSpec]:
    """Every topic with its dead-letter twin; ``prefix`` namespaces them (tests use one per run)."""
    specs: list[TopicSpec] = []
    for spec in MAIN_TOPICS:
        named = TopicSpec(prefix + spec.name, spec.partitions, spec.compacted, dict(spec.config))
        specs.extend((named, named.dead_letter()))
    return specs

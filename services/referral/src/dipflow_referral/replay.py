"""The referral service's tables rebuilt from custody's events:
``dipflow replay dipflow_referral.replay:SPEC --database-url … --schema replay_x``.

The consumer does not only keep custody's facts: it opens required assessments and bail cases, emits, queues
webhook deliveries and schedules their timers. Every table it writes is copied, the outbox and the timers
included, so a replay publishes nothing, delivers nothing and leaves the live tables alone; workers and team
webhooks are read from the live tables. Assignments made while replaying still wake the live inbox streams of
the workers they name (PostgreSQL NOTIFY is not per schema)."""

from __future__ import annotations

from dipflow.events.replay import ReplaySpec
from dipflow_referral.contracts.consumed import CONSUMED
from dipflow_referral.contracts.events import CONSUMES
from dipflow_referral.entrypoints.consumers import GROUP, custody_handler
from dipflow_referral.settings import ReferralSettings

SPEC = ReplaySpec(
    group_id=f"referral.{GROUP}",
    topics=CONSUMES,
    registry=CONSUMED,
    handler=custody_handler(ReferralSettings().appointment_policy()),
    tables=[
        "detentions",
        "assessments",
        "appointments",
        "notices",
        "attendances",
        "bail_cases",
        "webhook_deliveries",
        "outbox",
        "deadlines",
    ],
)

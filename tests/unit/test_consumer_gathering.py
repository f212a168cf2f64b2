"""Which consumer groups let their fetches gather records at the broker, and that a service's wiring tells each
consumer its subscription's."""

from __future__ import annotations

from typing import Any

from dipflow.events.consumer import EventConsumer
from dipflow.settings import ServiceSettings
from dipflow.wiring import Subscription, Wiring, loops
from dipflow_breach.domain.arrests import ArrestPolicy
from dipflow_breach.entrypoints.consumers import subscriptions as breach_subscriptions
from dipflow_ppo_register.entrypoints.consumers import subscription as ppo_subscription
from dipflow_referral.entrypoints.consumers import custody_subscription
from dipflow_referral.settings import ReferralSettings
from tests.support.events import PRODUCER, REGISTRY, record_effect


def test_groups_nobody_waits_on_to_the_second_gather_and_a_workers_referrals_do_not() -> None:
    breach = {s.group: s.gathers for s in breach_subscriptions(ArrestPolicy())}
    assert breach == {"probation": True, "events": True}
    assert ppo_subscription(panel_threshold=3).gathers
    referral = custody_subscription(ReferralSettings().appointment_policy())
    assert not referral.gathers  # a positive result reaches a worker's inbox at once


def test_each_consumer_gathers_as_its_subscription_says() -> None:
    subscriptions = [
        Subscription("quick", ["t"], REGISTRY, record_effect),
        Subscription("gathered", ["t"], REGISTRY, record_effect, gathers=True),
    ]
    pool: Any = object()  # a consumer connects only when it runs
    made = loops(Wiring(subscriptions, relay=False), ServiceSettings(service_name="s"), pool, PRODUCER)
    consumers = [c for c in made if isinstance(c, EventConsumer)]
    assert {c.group_id: c.gathers for c in consumers} == {"s.quick": False, "s.gathered": True}

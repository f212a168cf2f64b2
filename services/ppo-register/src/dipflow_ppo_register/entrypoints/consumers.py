"""The subscription to custody and referral events (consumer group ``<service>.events``): the facts the register's
read models keep (P2, P3, K1, K2), applied by :mod:`dipflow_ppo_register.service_layer.projections`."""

from __future__ import annotations

from dipflow.wiring import Subscription
from dipflow_ppo_register.contracts.consumed import CONSUMED
from dipflow_ppo_register.contracts.events import CONSUMES
from dipflow_ppo_register.service_layer.projections import event_handler


def subscription(panel_threshold: int) -> Subscription:
    return Subscription(
        "events", CONSUMES, CONSUMED, event_handler(panel_threshold=panel_threshold), gathers=True
    )

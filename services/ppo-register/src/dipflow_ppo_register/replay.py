"""The register's read models rebuilt from custody and referral events:
``dipflow replay dipflow_ppo_register.replay:SPEC --database-url … --schema replay_x``."""

from __future__ import annotations

from dipflow.events.replay import ReplaySpec
from dipflow_ppo_register.contracts.consumed import CONSUMED
from dipflow_ppo_register.contracts.events import CONSUMES
from dipflow_ppo_register.service_layer.projections import event_handler
from dipflow_ppo_register.settings import PpoRegisterSettings

SPEC = ReplaySpec(
    group_id="ppo-register.events",
    topics=CONSUMES,
    registry=CONSUMED,
    handler=event_handler(panel_threshold=PpoRegisterSettings().positives_for_panel_flag),
    tables=["positive_results", "assessment_failures", "arrests", "charges", "panel_flags"],
)

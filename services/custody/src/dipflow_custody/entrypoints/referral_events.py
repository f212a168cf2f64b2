"""The subscription to ``referral.events.v1``: the proposals whose RA1 is still to serve (A1)."""

from __future__ import annotations

from collections.abc import Sequence

from dipflow.events import Envelope, EventPayload
from dipflow.topics import REFERRAL_EVENTS
from dipflow.uow import UnitOfWork
from dipflow.wiring import Subscription
from dipflow_custody.contracts.consumed import REFERRAL, SETTLED, RequirementProposedView
from dipflow_custody.service_layer import requirements


async def on_referral_event(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, (RequirementProposedView, *SETTLED))
    if isinstance(payload, RequirementProposedView):
        await requirements.proposed(uow, payload.detention_id, payload.assessment_id)
    else:
        await requirements.settled(uow, payload.detention_id, payload.assessment_id)


async def read_ahead(uow: UnitOfWork, events: Sequence[tuple[Envelope, EventPayload]]) -> None:
    """One read of the detentions the batch's events name."""
    await requirements.read_ahead(
        uow, [p.detention_id for _, p in events if isinstance(p, (RequirementProposedView, *SETTLED))]
    )


SUBSCRIPTION = Subscription(
    "referral", [REFERRAL_EVENTS.name], REFERRAL, on_referral_event, prefetch=read_ahead
)
"""Consumer group ``<service>.referral``."""

"""Referral's events on ``referral.events.v1``: the proposals whose RA1 is still to serve (A1).

Read by the commands group (:func:`dipflow_custody.entrypoints.commands.subscription`) as a feed of its own: the
same people, on as many partitions, so a poll's commands and referral's events for a person share a transaction.
Their inbox stays that of the group that read them before, ``<service>.referral``, so nothing it applied is
applied again (docs/runbook.md, "Upgrading custody to one consumer group")."""

from __future__ import annotations

from collections.abc import Sequence

from dipflow.events import Envelope, EventPayload
from dipflow.events.consumer import Feed
from dipflow.topics import REFERRAL_EVENTS
from dipflow.uow import UnitOfWork
from dipflow_custody.contracts.consumed import REFERRAL, SETTLED, RequirementProposedView
from dipflow_custody.service_layer import requirements

REFERRAL_TYPES = (RequirementProposedView, *SETTLED)
FEED = Feed(REFERRAL_EVENTS.name, REFERRAL, inbox_group="referral")


async def on_referral_event(uow: UnitOfWork, envelope: Envelope, payload: EventPayload) -> None:
    assert isinstance(payload, REFERRAL_TYPES)
    if isinstance(payload, RequirementProposedView):
        await requirements.proposed(uow, payload.detention_id, payload.assessment_id)
    else:
        await requirements.settled(uow, payload.detention_id, payload.assessment_id)


def detentions_named(events: Sequence[tuple[Envelope, EventPayload]]) -> list[str]:
    """The detentions a batch's referral events name (its other events are passed over)."""
    return [p.detention_id for _, p in events if isinstance(p, REFERRAL_TYPES)]

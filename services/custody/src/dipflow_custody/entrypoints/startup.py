"""What custody does when it starts, before its loops: the first import of the shipped reference data (for what has
no record yet), and publishing every area and suite for the other services' copies."""

from __future__ import annotations

from dipflow.logging import get_logger
from dipflow.uow import system_actor, unit_of_work
from dipflow.wiring import ServiceResources
from dipflow_custody.contracts.events import PRODUCER
from dipflow_custody.service_layer import reference

log = get_logger("dipflow.custody.reference")


async def seed_reference(resources: ServiceResources) -> None:
    async with unit_of_work(resources.pool, PRODUCER, actor=system_actor("custody")) as uow:
        added = await reference.seed(uow)
    if any(added.values()):
        log.info("reference_seeded", **added)

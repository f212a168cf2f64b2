"""What the custody routes depend on: who may call them, on which records, and the settings the rules need."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Path, Request

from dipflow.auth import Role
from dipflow.http.access import AuthContext, Requirement, requires
from dipflow.http.problems import Problem
from dipflow_custody.service_layer import detentions
from dipflow_custody.service_layer.actions import Reporter
from dipflow_custody.settings import CustodySettings

WRITERS = (Role.custody_officer, Role.inspector)
READERS = (Role.custody_officer, Role.inspector, Role.admin)

DetentionId = Annotated[str, Path(min_length=36, max_length=36)]


def on_detention(*roles: Role) -> Requirement:
    """``requires(*roles)``, and the detention's custody suite is in an area the caller covers: checked before
    the body is read, so a caller who may not act on it learns nothing from a 422."""
    caller = requires(*roles)

    async def dependency(detention_id: DetentionId, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            area = await detentions.area_of(uow, detention_id)
        ctx.require_area(area)
        return ctx

    dependency.record = "the detention's suite is in the caller's area"  # type: ignore[attr-defined]
    return dependency


def on_ppo_person(*roles: Role) -> Requirement:
    """``requires(*roles)``, and the caller is custody of the force whose register holds the person, or of a
    suite where the person is detained now; anyone else gets a 403, whether the person is a PPO or not."""
    caller = requires(*roles)

    async def dependency(person_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            borough, detained_in = await detentions.where_person_is(uow, person_id)
        own_force = borough is not None and ctx.principal.in_force_of(borough)
        if not own_force and not any(ctx.principal.covers(area) for area in detained_in):
            raise Problem(
                403,
                "you may see the PPO status of people on your force's register or detained at your suites",
                kind="wrong-area",
            )
        return ctx

    dependency.record = "the person is on the caller's force's register, or detained in the caller's area"  # type: ignore[attr-defined]
    return dependency


Writer = Annotated[AuthContext, Depends(on_detention(*WRITERS))]
Reader = Annotated[AuthContext, Depends(on_detention(*READERS))]
Inspector = Annotated[AuthContext, Depends(on_detention(Role.inspector))]
Officer = Annotated[AuthContext, Depends(on_detention(Role.custody_officer))]
PpoStatusReader = Annotated[AuthContext, Depends(on_ppo_person(Role.custody_officer, Role.inspector))]
Booker = Annotated[AuthContext, Depends(requires(*WRITERS))]
SuiteReader = Annotated[AuthContext, Depends(requires(Role.inspector, Role.custody_officer))]
Admin = Annotated[AuthContext, Depends(requires(Role.admin))]
SignedIn = Annotated[AuthContext, Depends(requires())]
MeasureReader = Annotated[AuthContext, Depends(requires(Role.analyst, Role.admin, Role.inspector))]


async def settings(request: Request) -> CustodySettings:
    found: CustodySettings = request.app.state.resources.settings
    return found


Settings = Annotated[CustodySettings, Depends(settings)]


def reporter(ctx: AuthContext, settings: CustodySettings) -> Reporter:
    """Actions over HTTP are reported by the signed-in officer, now unless the body says when."""
    return Reporter(
        by=ctx.principal.subject,
        default_at=datetime.now(UTC),
        confirmation_working_days=settings.confirmation_working_days,
    )


def kit_cost(settings: CustodySettings) -> Decimal:
    return settings.kit_cost_gbp

"""What the register's routes depend on: who may call them, and on which records."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dipflow.auth import Role
from dipflow.errors import NotFound
from dipflow.http.access import AuthContext, Requirement, requires
from dipflow.http.params import RowId
from dipflow.http.problems import Problem
from dipflow_ppo_register.service_layer import flags, register
from dipflow_ppo_register.settings import PpoRegisterSettings

MAINTAINERS = (Role.ppo_coordinator, Role.admin)
READERS = (Role.ppo_coordinator, Role.admin, Role.custody_officer, Role.inspector, Role.probation_liaison)
LIST_READERS = (Role.ppo_coordinator, Role.probation_liaison)
"""T13: the tested-positive list is individuals' test results, read for supervision (never by police enforcement
for arrests, nor by analysts, who read aggregates)."""
MEASURE_READERS = (Role.analyst, Role.admin, Role.ppo_coordinator, Role.referral_manager)


def on_registered_person(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the person's current borough in the caller's area, before the body is read."""
    caller = requires(*roles)

    async def dependency(person_id: str, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            borough = await register.current_borough(uow, person_id)
        if borough is None:
            raise NotFound("person on the register", person_id)
        ctx.require_area(borough)
        return ctx

    dependency.record = "the person's current borough is in the caller's area"  # type: ignore[attr-defined]
    return dependency


def on_flag(*roles: Role) -> Requirement:
    """``requires(*roles)`` and the flag's borough in the caller's area, before the body is read."""
    caller = requires(*roles)

    async def dependency(flag_id: RowId, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            borough = await flags.borough_of_flag(uow, flag_id)
        ctx.require_area(borough)
        return ctx

    dependency.record = "the flag's borough is in the caller's area"  # type: ignore[attr-defined]
    return dependency


Maintainer = Annotated[AuthContext, Depends(requires(*MAINTAINERS))]
PersonMaintainer = Annotated[AuthContext, Depends(on_registered_person(*MAINTAINERS))]
Reader = Annotated[AuthContext, Depends(requires(*READERS))]
BoroughReader = Annotated[AuthContext, Depends(requires(*READERS, area="borough"))]
ListReader = Annotated[AuthContext, Depends(requires(*LIST_READERS, area="borough"))]
PanelReader = Annotated[AuthContext, Depends(requires(Role.ppo_coordinator, area="borough"))]
FlagReviewer = Annotated[AuthContext, Depends(on_flag(Role.ppo_coordinator))]
MeasureReader = Annotated[AuthContext, Depends(requires(*MEASURE_READERS, area="borough"))]
TargetSetter = Annotated[AuthContext, Depends(requires(Role.analyst, Role.admin, area="borough"))]


async def settings(request: Request) -> PpoRegisterSettings:
    found: PpoRegisterSettings = request.app.state.resources.settings
    return found


Settings = Annotated[PpoRegisterSettings, Depends(settings)]


def borough_for(ctx: AuthContext, borough: str | None) -> str | None:
    """A borough-wide list needs a borough, unless the caller's scope is national."""
    if borough is None and not ctx.principal.national:
        raise Problem(
            422,
            "name a borough you cover",
            errors=[{"field": "query.borough", "reason": "required for your area"}],
        )
    return borough

"""What the breach routes depend on: who may call them, on which records (checked before the body is read), and
the arrest policy from the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from dipflow.auth import Role
from dipflow.http.access import AuthContext, Requirement, requires
from dipflow.uow import UnitOfWork
from dipflow_breach.domain.arrests import ArrestPolicy
from dipflow_breach.service_layer import cases, orders
from dipflow_breach.settings import BreachSettings

LIAISON = (Role.probation_liaison, Role.admin)
ENFORCEMENT = (Role.police_enforcement, *LIAISON)
MEASURE_READERS = (Role.analyst, *LIAISON, Role.police_enforcement)

AreaOf = Callable[[UnitOfWork, str], Awaitable[str]]


def _on_record(*roles: Role, key: str, area_of: AreaOf, what: str) -> Requirement:
    """``requires(*roles)``, and the area of the record named by the path parameter ``key`` is one the caller
    covers: checked before the body is read or anything written, so a caller who may not act on it learns
    nothing from a 422 (an unknown record is a 404)."""
    caller = requires(*roles)

    async def dependency(request: Request, ctx: AuthContext = Depends(caller)) -> AuthContext:
        async with ctx.reading() as uow:
            area = await area_of(uow, request.path_params[key])
        ctx.require_area(area)
        return ctx

    dependency.record = f"the {what}'s area is the caller's"  # type: ignore[attr-defined]
    return dependency


def on_order(*roles: Role) -> Requirement:
    return _on_record(*roles, key="order_id", area_of=orders.area_of, what="order")


def on_case(*roles: Role) -> Requirement:
    return _on_record(*roles, key="case_id", area_of=cases.area_of, what="breach case")


Liaison = Annotated[AuthContext, Depends(requires(*LIAISON))]
AreaLiaison = Annotated[AuthContext, Depends(requires(*LIAISON, area="area"))]
OrderLiaison = Annotated[AuthContext, Depends(on_order(*LIAISON))]
CaseLiaison = Annotated[AuthContext, Depends(on_case(*LIAISON))]
AreaEnforcement = Annotated[AuthContext, Depends(requires(*ENFORCEMENT, area="area"))]
MeasureReader = Annotated[AuthContext, Depends(requires(*MEASURE_READERS))]


async def arrest_policy(request: Request) -> ArrestPolicy:
    settings: BreachSettings = request.app.state.resources.settings
    return settings.arrest_policy()


Policy = Annotated[ArrestPolicy, Depends(arrest_policy)]

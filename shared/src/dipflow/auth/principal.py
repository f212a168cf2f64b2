"""Who is calling: their role, the area they act in, and for arrest referral workers their worker id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

NATIONAL = "*"


class Role(StrEnum):
    custody_officer = "custody_officer"
    inspector = "inspector"
    referral_worker = "referral_worker"
    referral_manager = "referral_manager"
    ppo_coordinator = "ppo_coordinator"
    probation_liaison = "probation_liaison"
    court_liaison = "court_liaison"
    police_enforcement = "police_enforcement"
    analyst = "analyst"
    admin = "admin"


NATIONAL_ROLES = frozenset({Role.admin, Role.analyst})
"""The roles whose work is national: only they may hold a token for the whole country (area ``*``)."""


@cache
def shipped_areas() -> dict[str, str]:
    """The force of every area in the shipped file (a force is its own): the first import of an installation."""
    data = json.loads(resources.files("dipflow.data").joinpath("areas.json").read_text())
    forces = {force: force for force in data["forces"]}
    return {
        **forces,
        **{borough: force for force, boroughs in data["forces"].items() for borough in boroughs},
    }


_installed: list[dict[str, str]] = []


def install_areas(forces: dict[str, str]) -> None:
    """The areas a force manages (custody's reference data, this service's copy) from now on, over the shipped
    ones (:mod:`dipflow.reference_copy` keeps them current)."""
    _installed[:] = [{**shipped_areas(), **forces}]


def force_of(area: str) -> str | None:
    """The police force a borough belongs to (a force is its own), if the areas know it."""
    return (_installed[-1] if _installed else shipped_areas()).get(area)


def areas_of_force(force: str) -> list[str]:
    """The force and every area whose force it is, as the areas are known now."""
    known = _installed[-1] if _installed else shipped_areas()
    return sorted({force, *(a for a, f in known.items() if f == force)})


def area_covers(mine: str, area: str) -> bool:
    """Whoever acts for ``mine`` (a borough, a force, or ``*``) may act in ``area``: the same area, a borough of
    that force, or anywhere."""
    return mine in (NATIONAL, area) or force_of(area) == mine


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    area: str
    worker_id: str | None = None
    token_id: str | None = None

    def covers(self, area: str) -> bool:
        """True when this person may act in ``area``: their own area, a borough of their force, or national."""
        return area_covers(self.area, area)

    @property
    def national(self) -> bool:
        return self.area == NATIONAL

    def in_force_of(self, area: str) -> bool:
        """True when this person works for the force ``area`` belongs to (a borough token counts for its
        force), or is national."""
        if self.national:
            return True
        mine = force_of(self.area)
        return mine is not None and mine == force_of(area)

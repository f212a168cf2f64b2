"""/v1/panel-flags: people flagged for the PPO panel (P3), with the evidence, and the panel's decision."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.auth.purposes import Purpose, required_purpose
from dipflow.http.params import RowId
from dipflow_ppo_register.domain.panel import FlagRecord
from dipflow_ppo_register.entrypoints.http.deps import FlagReviewer, PanelReader, borough_for
from dipflow_ppo_register.service_layer import flags

router = APIRouter(prefix="/v1/panel-flags", tags=["panel flags (P3)"])
FLAG_PURPOSES = (Purpose.supervision,)
"""T13: the evidence is test results."""


class FlagView(BaseModel):
    id: int
    person_id: str
    borough: str
    raised_on: date
    reason: str
    rule_ids: list[str]
    evidence: dict[str, Any]
    reviewed_by: str | None
    review_outcome: str | None
    review_note: str | None


class ReviewOutcome(StrEnum):
    added_to_register = "added_to_register"
    not_selected = "not_selected"


class Review(BaseModel):
    outcome: ReviewOutcome
    note: str | None = Field(None, max_length=1000)


def _view(flag: FlagRecord) -> FlagView:
    return FlagView(**{k: getattr(flag, k) for k in FlagView.model_fields})


@router.get("", response_model=list[FlagView], summary="People flagged for the PPO panel, with the evidence")
async def panel_flags(
    ctx: PanelReader, borough: str | None = Query(None, max_length=60), include_reviewed: bool = False
) -> list[FlagView]:
    reading = required_purpose(ctx.principal, None, FLAG_PURPOSES)
    wanted = borough_for(ctx, borough)
    async with ctx.unit_of_work() as uow:
        found = await flags.flags_in(uow, wanted, include_reviewed, str(reading))
    return [_view(f) for f in found]


@router.post("/{flag_id}/review", response_model=FlagView, summary="Record the panel's decision on a flag")
async def review_flag(flag_id: RowId, body: Review, ctx: FlagReviewer) -> FlagView:
    async with ctx.unit_of_work() as uow:
        reviewed = await flags.review(
            uow, flag_id, outcome=str(body.outcome), note=body.note, covers=ctx.principal.covers
        )
    return _view(reviewed)

"""/v1/suites/{suite}/board: everyone in custody at a suite now and what each needs next (the custody board)."""

from __future__ import annotations

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from dipflow_custody.entrypoints.http.deps import SuiteReader
from dipflow_custody.entrypoints.http.schemas import DetentionView, detention_view
from dipflow_custody.service_layer import detentions, reference

router = APIRouter(prefix="/v1/suites", tags=["custody board"])
WITHHELD = "test results are not shown on the board (T13): open the detention with a purpose to read them"


class NextStepView(BaseModel):
    action: str = Field(description="The detention action that does it (its route's last segment), or ra1")
    rule_ids: list[str]
    text: str


class BoardRow(BaseModel):
    name: str
    detention: DetentionView
    next_steps: list[NextStepView] = Field(description="In the order the law puts them; empty when nothing")


@router.get(
    "/{suite}/board",
    response_model=list[BoardRow],
    summary="Everyone in custody at a suite now, earliest booked first, with what each needs next",
)
async def board(ctx: SuiteReader, suite: str = Path(min_length=2, max_length=60)) -> list[BoardRow]:
    async with ctx.unit_of_work() as uow:
        area = await reference.suite_area(uow, suite)
        ctx.require_area(area)
        rows = await detentions.board(uow, suite)
        await uow.audit("custody.board", None, {"suite": suite, "people": len(rows)})
    return [
        BoardRow(
            name=row.name,
            detention=detention_view(detentions.Outcome(row.detention, row.decision, area)).model_copy(
                update={"results": None, "confirmation": None, "results_withheld": WITHHELD}
            ),
            next_steps=[
                NextStepView(action=s.action, rule_ids=list(s.rule_ids), text=s.text) for s in row.next_steps
            ],
        )
        for row in rows
    ]

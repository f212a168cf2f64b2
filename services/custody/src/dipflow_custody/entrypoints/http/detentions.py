"""/v1/detentions: book a person in, every action on their detention, and reading it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.auth.purposes import PERMITTED, Purpose, purpose_of
from dipflow.http.access import AuthContext
from dipflow_custody.contracts.bodies import (
    BookIn,
    FurtherOffence,
)
from dipflow_custody.entrypoints.http.deps import (
    Booker,
    DetentionId,
    Inspector,
    Officer,
    Reader,
    Settings,
    Writer,
    reporter,
)
from dipflow_custody.entrypoints.http.schemas import (
    DecisionView,
    DetentionView,
    decision_view,
    detention_view,
)
from dipflow_custody.service_layer import detentions
from dipflow_custody.service_layer.actions import COMMANDS
from dipflow_custody.settings import CustodySettings

router = APIRouter(prefix="/v1/detentions", tags=["detentions"])

DETENTION_PURPOSES = (
    Purpose.bail,
    Purpose.conditional_caution,
    Purpose.required_assessment,
    Purpose.prosecution,
)


@router.post("", status_code=201, response_model=DetentionView, summary="Book a person in")
async def book_in(body: BookIn, ctx: Booker) -> DetentionView:
    command = detentions.book_in_command(body, booked_in_at=datetime.now(UTC))
    async with ctx.unit_of_work() as uow:
        return detention_view(await detentions.book_in(uow, command, ctx.require_area))


async def _act(
    ctx: AuthContext, settings: CustodySettings, detention_id: str, name: str, body: BaseModel
) -> DetentionView:
    """The action ``name`` (its route's) with ``body``, reported by the signed-in officer."""
    action = COMMANDS[name].build(body, reporter(ctx, settings))
    async with ctx.unit_of_work() as uow:
        outcome = await detentions.act(uow, detentions.Act(detention_id, name, action), ctx.require_area)
    return detention_view(outcome)


@router.get(
    "/{detention_id}", response_model=DetentionView, summary="A detention and its current test decision"
)
async def read(
    detention_id: DetentionId,
    ctx: Reader,
    purpose: Annotated[
        Purpose | None,
        Query(description="What the test results are read for (T13); without one they are not shown"),
    ] = None,
) -> DetentionView:
    reading = purpose_of(ctx.principal, purpose, DETENTION_PURPOSES)
    async with ctx.reading() as uow:
        view = detention_view(await detentions.read(uow, detention_id, ctx.require_area, purpose=reading))
    return view if reading is not None else _withheld(view, ctx)


class DrugTestRecordView(BaseModel):
    """The DT1-style record of the test given to the person."""

    name: str
    date_of_birth: date
    detention: DetentionView
    asked_under: DecisionView | None = Field(
        description="The decision under which the sample was taken or refused, as it stood then"
    )


@router.get(
    "/{detention_id}/test-record",
    response_model=DrugTestRecordView,
    summary="The record of the test for the person (DT1-style): the test, its result and what follows",
)
async def test_record(detention_id: DetentionId, ctx: Officer) -> DrugTestRecordView:
    async with ctx.unit_of_work() as uow:
        found = await detentions.test_record(uow, detention_id, ctx.require_area)
    return DrugTestRecordView(
        name=found.name,
        date_of_birth=found.outcome.detention.date_of_birth,
        detention=detention_view(found.outcome),
        asked_under=decision_view(found.asked_under) if found.asked_under else None,
    )


def _withheld(view: DetentionView, ctx: AuthContext) -> DetentionView:
    """T13: the detention without its test results, for a read that names no purpose the role may read them
    for."""
    permitted = sorted(PERMITTED[ctx.principal.role] & frozenset(DETENTION_PURPOSES))
    why = (
        f"test results are shown for a stated purpose (T13): add ?purpose= one of {', '.join(permitted)}"
        if permitted
        else f"the role {ctx.principal.role} does not see individual test results (T13)"
    )
    return view.model_copy(update={"results": None, "confirmation": None, "results_withheld": why})


@router.post(
    "/{detention_id}/offences", response_model=DetentionView, summary="Add an offence or a further arrest"
)
async def add_offence(
    detention_id: DetentionId, body: FurtherOffence, ctx: Writer, settings: Settings
) -> DetentionView:
    return await _act(ctx, settings, detention_id, "offences", body)


def _action_route(function: str, name: str, ctx_type: object, summary: str) -> None:
    """``POST /v1/detentions/{id}/<name with - for _>``: the action ``name`` with its body (``COMMANDS``)."""

    async def route(
        detention_id: str, body: BaseModel, ctx: AuthContext, settings: CustodySettings
    ) -> DetentionView:
        return await _act(ctx, settings, detention_id, name, body)

    route.__name__ = route.__qualname__ = function
    route.__annotations__ = {
        "detention_id": DetentionId,
        "body": COMMANDS[name].body,
        "ctx": ctx_type,
        "settings": Settings,
        "return": DetentionView,
    }
    path = f"/{{detention_id}}/{name.replace('_', '-')}"
    router.post(path, response_model=DetentionView, summary=summary)(route)


ACTION_ROUTES = [
    (
        "offence_disposal",
        "offence_disposal",
        Writer,
        "T9: released for one offence (no further action, charged or bailed), still detained for another",
    ),
    ("charge", "charge", Writer, "Charge"),
    ("inspector_decision", "inspector_decision", Inspector, "Inspector authorises or declines a test (T3)"),
    (
        "written_confirmation",
        "written_confirmation",
        Inspector,
        "T3: the inspector confirms an oral decision in writing",
    ),
    ("person_told", "person_told", Writer, "T3: the person was told of the authorisation and its grounds"),
    ("appropriate_adult", "appropriate_adult", Writer, "An appropriate adult is present (T5)"),
    ("warning", "warning", Writer, "The warning was given (T6)"),
    ("sample", "sample", Writer, "A sample was taken (T7, T8)"),
    ("result", "results", Writer, "A result for one drug (T12, T14)"),
    (
        "confirmation_dispatch",
        "confirmation_dispatch",
        Writer,
        "T12: the disputed sample was sent for confirmatory analysis",
    ),
    ("confirmatory_result", "confirmatory_result", Writer, "Confirmatory analysis result (T12)"),
    ("refusal", "refusal", Writer, "Failure to give a sample (T11)"),
    ("release", "release", Writer, "Release"),
]
"""(function, action, who may call it, summary) of every action route but book-in and offences, in the order the
API documents them."""

for function, name, ctx_type, summary in ACTION_ROUTES:
    _action_route(function, name, ctx_type, summary)

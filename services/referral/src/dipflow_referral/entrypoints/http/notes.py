"""/v1/assessments/{id}/clinical-notes and /notices: what is written about an assessment. Clinical notes are for
assessment staff only (A8); the notices served (RA1-RA5, A6) are printable for everyone on the case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow_referral.entrypoints.http.deps import (
    AssessmentReader,
    NotesReader,
    NotesWriter,
    assessment_access,
)
from dipflow_referral.service_layer import assessments, clinical_notes

router = APIRouter(prefix="/v1/assessments", tags=["required assessments"])


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=10000)


class NoteRecorded(BaseModel):
    status: Literal["recorded"] = "recorded"


class NoteView(BaseModel):
    written_by: str
    written_at: datetime
    note: str


class NoticeView(BaseModel):
    form: str
    served_at: datetime
    text: str


@router.post(
    "/{assessment_id}/clinical-notes",
    status_code=201,
    response_model=NoteRecorded,
    summary="A8: assessment staff only",
)
async def add_note(assessment_id: str, body: NoteIn, ctx: NotesWriter) -> NoteRecorded:
    async with ctx.unit_of_work() as uow:
        await clinical_notes.add(uow, assessment_id, body.note, assessment_access(ctx.principal))
    return NoteRecorded()


@router.get("/{assessment_id}/clinical-notes", response_model=list[NoteView], summary="A8: staff only")
async def notes(
    assessment_id: str,
    ctx: NotesReader,
    break_glass_reason: Annotated[
        str | None,
        Query(
            min_length=10,
            max_length=500,
            description="Admins only: why the notes must be read now (a recorded break-glass, shown in the audit)",
        ),
    ] = None,
) -> list[NoteView]:
    """The case's assigned workers and the managers of its area read its notes (A8). An admin reads them only
    by breaking the glass with a reason, which the audit keeps."""
    command = clinical_notes.ReadNotes(assessment_id, break_glass_reason)
    async with ctx.unit_of_work() as uow:
        found = await clinical_notes.read(uow, command, assessment_access(ctx.principal))
    return [NoteView(written_by=n.written_by, written_at=n.written_at, note=n.note) for n in found]


@router.get("/{assessment_id}/notices", response_model=list[NoticeView], summary="RA1-RA5 notices, printable")
async def notices(assessment_id: str, ctx: AssessmentReader) -> list[NoticeView]:
    async with ctx.unit_of_work() as uow:
        found = await assessments.notices(uow, assessment_id, assessment_access(ctx.principal))
    return [NoticeView(form=n.form, served_at=n.served_at, text=n.text) for n in found]

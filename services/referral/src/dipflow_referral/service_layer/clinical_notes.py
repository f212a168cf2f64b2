"""A8: what is said at an assessment is for assessment staff only. Notes are written by the case's staff and read
by its assigned workers and the managers of its area; an admin reads them only by breaking the glass with a
reason, which the audit keeps. Notes never reach an event or a log line."""

from __future__ import annotations

from dataclasses import dataclass

from dipflow.auth import Role
from dipflow.errors import Forbidden
from dipflow.uow import UnitOfWork
from dipflow_referral.adapters import assessments
from dipflow_referral.service_layer.assessments import AccessCheck, load_checked


@dataclass(frozen=True)
class ReadNotes:
    assessment_id: str
    break_glass_reason: str | None = None
    """Admins only: why the notes must be read now."""


async def add(uow: UnitOfWork, assessment_id: str, note: str, check: AccessCheck) -> None:
    loaded = await load_checked(uow, assessment_id, check)
    assert uow.actor is not None, "a member of staff writes a note"
    await assessments.add_note(uow, assessment_id, uow.actor.subject, note)
    await uow.audit("clinical_note.add", loaded.assessment.person_id, {"assessment_id": assessment_id})


async def read(uow: UnitOfWork, cmd: ReadNotes, check: AccessCheck) -> list[assessments.Note]:
    """A8: the notes, for the case's staff; for an admin only with a break-glass reason (audited as such)."""
    admin = uow.actor is not None and uow.actor.role is Role.admin
    if admin and cmd.break_glass_reason is None:
        raise Forbidden(
            "clinical notes are for the case's assessment staff (A8); an admin may read them only by breaking "
            "the glass with a reason (break_glass_reason)",
            kind="break-glass-required",
            rule_id="A8",
        )
    loaded = await load_checked(uow, cmd.assessment_id, check)
    notes = await assessments.notes(uow, cmd.assessment_id)
    action, detail = "clinical_note.read", {"assessment_id": cmd.assessment_id}
    if admin:
        action, detail = "clinical_note.break_glass", {**detail, "reason": cmd.break_glass_reason or ""}
    await uow.audit(action, loaded.assessment.person_id, detail)
    return notes

"""What a team's webhook receives (A9): one signed POST per new assignment of a worker of the team's area. It
names the assessment, the worker and the appointment, never the person."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class TeamAssignment(BaseModel):
    type: Literal["assignment"] = "assignment"
    assessment_id: str
    kind: str
    worker_id: str
    appointment_at: datetime
    suite: str
    reassigned: bool

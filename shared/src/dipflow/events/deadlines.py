"""Durable deadlines as rows: scheduling and cancelling them inside the caller's transaction.

The timer loop (:mod:`dipflow.events.timers`) fires them. A deadline scheduled to fall due about now (within
``WAKE_WITHIN``: a notification to send) wakes the loop of its kind at once through ``NOTIFY dipflow_deadlines``
(the payload is the kind) on commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dipflow.db.appends import Writes

WAKE_CHANNEL = "dipflow_deadlines"
WAKE_WITHIN = timedelta(seconds=5)


async def schedule_deadline(
    writes: Writes, kind: str, subject: str, due_at: datetime, payload: dict[str, Any] | None = None
) -> None:
    """Set (or move) the deadline ``kind`` for ``subject``; a deadline that already fired is left alone.
    In a consumer's batch the write goes with the batch's others (:class:`dipflow.db.appends.Writes`): the
    deadline's last scheduling and its last cancel, in their order, decide its end state, so only those are
    written."""
    await writes.execute_last(
        ("deadline", kind, subject),
        """
        INSERT INTO deadlines (kind, subject, due_at, payload) VALUES ($1, $2, $3, $4)
        ON CONFLICT (kind, subject) DO UPDATE
            SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, cancelled_at = NULL,
                attempts = 0, failed_at = NULL, last_error = NULL
            WHERE deadlines.fired_at IS NULL
        """,
        kind,
        subject,
        due_at,
        payload or {},
        kind="schedule",
    )
    if abs(due_at - datetime.now(UTC)) <= WAKE_WITHIN:
        await writes.notify(WAKE_CHANNEL, kind)


async def cancel_deadline(writes: Writes, kind: str, subject: str) -> None:
    """Cancel the deadline ``kind`` for ``subject`` unless it fired already (batched like scheduling)."""
    await writes.execute_last(
        ("deadline", kind, subject),
        "UPDATE deadlines SET cancelled_at = now() WHERE kind = $1 AND subject = $2 "
        "AND fired_at IS NULL AND cancelled_at IS NULL",
        kind,
        subject,
        kind="cancel",
    )

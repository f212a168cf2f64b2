"""The referral HTTP API, one module per resource."""

from dipflow_referral.entrypoints.http import (
    assessments,
    bail,
    inbox,
    measures,
    notes,
    queue,
    teams,
    workers,
)

ROUTERS = [
    workers.router,
    teams.router,
    assessments.router,
    notes.router,
    queue.router,
    inbox.router,
    bail.router,
    measures.router,
]

"""The referral HTTP API, one module per resource."""

from dipflow.alerts.http import alerts_router
from dipflow.auth.principal import Role
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
    alerts_router(
        [Role.referral_worker, Role.referral_manager, Role.court_liaison],
        receiver_setters=[Role.referral_manager, Role.court_liaison],
    ),
]

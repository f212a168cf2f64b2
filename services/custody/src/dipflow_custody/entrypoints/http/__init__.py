"""The custody HTTP API, one module per resource."""

from dipflow.alerts.http import alerts_router
from dipflow.auth.principal import Role
from dipflow_custody.entrypoints.http import (
    board,
    catalogue,
    detentions,
    measures,
    notifications,
    places,
    reference,
)

ROUTERS = [
    detentions.router,
    notifications.router,
    measures.router,
    reference.router,
    catalogue.router,
    places.router,
    board.router,
    alerts_router([Role.custody_officer, Role.inspector]),
]

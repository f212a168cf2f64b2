"""The breach HTTP API, one module per resource."""

from dipflow.alerts.http import alerts_router
from dipflow.auth.principal import Role
from dipflow_breach.entrypoints.http import arrests, cases, measures, notifications, orders

ROUTERS = [
    orders.router,
    cases.router,
    arrests.router,
    notifications.router,
    measures.router,
    alerts_router(
        [Role.police_enforcement, Role.probation_liaison], receiver_setters=[Role.probation_liaison]
    ),
]

"""The custody HTTP API, one module per resource."""

from dipflow_custody.entrypoints.http import detentions, measures, notifications, reference

ROUTERS = [detentions.router, notifications.router, measures.router, reference.router]

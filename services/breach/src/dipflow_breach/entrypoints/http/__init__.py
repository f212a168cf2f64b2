"""The breach HTTP API, one module per resource."""

from dipflow_breach.entrypoints.http import arrests, cases, measures, notifications, orders

ROUTERS = [orders.router, cases.router, arrests.router, notifications.router, measures.router]

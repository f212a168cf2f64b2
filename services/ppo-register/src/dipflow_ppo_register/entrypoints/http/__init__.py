"""The ppo-register HTTP API, one module per resource."""

from dipflow_ppo_register.entrypoints.http import imports, measures, panel, register, tested_positive

ROUTERS = [register.router, imports.router, tested_positive.router, panel.router, measures.router]

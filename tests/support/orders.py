"""A DRR order as probation's system sends it, for the breach tests."""

from __future__ import annotations

from datetime import date

from dipflow_breach.contracts.inbound import OrderMade


def drr_order(order_id: str, *, area: str = "lambeth") -> OrderMade:
    """A two-year order made at Camberwell Green, starting 1 January 2008."""
    return OrderMade(
        order_id=order_id,
        area=area,
        court="Camberwell Green",
        start_date=date(2008, 1, 1),
        treatment_months=24,
        responsible_officer="Officer Ann",
    )

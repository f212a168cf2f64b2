"""/v1/measures/k3: time to arrest (K3, D6), with its distribution, by period against a baseline period, as JSON
or as CSV and XLSX files."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dipflow.exports import FileFormat, Table
from dipflow.http.files import FILE_RESPONSES, Format, checked_period, file_or_rows
from dipflow.http.params import Day
from dipflow.periods import PERIOD_PATTERN, Granularity
from dipflow_breach.domain.arrests import BUCKETS
from dipflow_breach.entrypoints.http.deps import MeasureReader
from dipflow_breach.service_layer import arrests

router = APIRouter(prefix="/v1/measures", tags=["measures"])
K3_DEFINITIONS = (
    "K3 (MPS Drugs Strategy 2007-10, 5.2.1: a reduction in the time taken to arrest offenders): hours from an "
    "arrest request to the arrest, by source (failure to attend or remain, DRR breach), borough and PPO status; "
    "requests not cancelled, counted in the period they were made (Europe/London days).",
    "Median and 90th percentile by nearest rank; within target: arrested by the request's deadline; still open: "
    "not yet arrested. Median change: against the same group in the baseline period (negative is a reduction).",
)
K3_COLUMNS = (
    ("period", "Period"),
    ("source", "Source"),
    ("borough", "Borough"),
    ("ppo", "PPO"),
    ("count", "Arrests"),
    ("mean_hours", "Mean hours"),
    ("p50_hours", "Median hours"),
    ("p90_hours", "90th percentile hours"),
    ("max_hours", "Longest hours"),
    ("within_target", "Within target"),
    ("still_open", "Still open"),
    *((f"bucket {label}", f"Arrested {label}") for _, label in BUCKETS),
    ("baseline_period", "Baseline period"),
    ("baseline_p50_hours", "Baseline median hours"),
    ("median_change", "Median change"),
)


class K3Group(BaseModel):
    period: str | None = Field(None, description="With ?per=: the period the requests were made in")
    source: str
    borough: str
    ppo: bool
    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    max_hours: float | None
    within_target: int
    buckets: dict[str, int]
    still_open: int
    baseline_period: str | None = None
    baseline_count: int | None = None
    baseline_p50_hours: float | None = None
    baseline_mean_hours: float | None = None
    median_change: float | None = Field(
        None, description="Against the baseline's median; negative: a reduction"
    )


def _flat(row: BaseModel) -> dict[str, Any]:
    found = row.model_dump()
    return {**found, **{f"bucket {label}": n for label, n in found.pop("buckets").items()}}


@router.get(
    "/k3",
    response_model=list[K3Group],
    responses=FILE_RESPONSES,
    summary="K3: time to arrest, with its distribution, by period against a baseline",
)
async def k3(
    ctx: MeasureReader,
    since: Annotated[Day, Query(alias="from")] = date(2001, 1, 1),
    until: Annotated[Day, Query(alias="to")] = date(2100, 1, 1),
    per: Granularity | None = Query(None, description="month, quarter or financial_year: a row per period"),
    baseline: str | None = Query(None, pattern=PERIOD_PATTERN, description="2008-03, 2007/08 Q4 or 2007/08"),
    file_format: Format = FileFormat.json,
) -> Any:
    """By source, borough and PPO status, for requests made in the period."""
    if baseline is not None:
        checked_period(baseline, "query.baseline")
    async with ctx.unit_of_work() as uow:
        rows = await arrests.time_to_arrest(uow, since, until, ctx.principal.covers, per, baseline)
    found = [
        K3Group(
            period=row.period,
            source=row.source,
            borough=row.borough,
            ppo=row.ppo,
            **row.distribution.__dict__,
            still_open=row.still_open,
            baseline_period=row.baseline_period,
            baseline_count=row.baseline.count if row.baseline else None,
            baseline_p50_hours=row.baseline.p50_hours if row.baseline else None,
            baseline_mean_hours=row.baseline.mean_hours if row.baseline else None,
            median_change=row.median_change,
        )
        for row in rows
    ]
    table = Table("K3 time to arrest", K3_COLUMNS, [], K3_DEFINITIONS)
    return file_or_rows(table, found, file_format, f"k3-{per or 'all'}-{since}-{until}", dump=_flat)

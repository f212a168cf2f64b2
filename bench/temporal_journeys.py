"""The bench's journeys as Temporal workflows: the peer ``make bench`` runs side by side with dipflow.

One workflow per journey, its steps the commands dipflow's custody suites and probation systems send, each
effect an activity writing the same row dipflow's services write (a detention, an arrest in the PPO register,
a booking and an order in breach, an assessment in referral, a breach case). The decisions are the same
rules: a positive result requires an assessment (A1), which lapses on a release the officer confirms (A1); the
first unacceptable absence under a DRR is warned (D2), the second within the year is a breach case (D3). Imports only the standard library and temporalio: the workflow sandbox loads this module again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow

TASK_QUEUE = "dipflow-peer"


@dataclass(frozen=True)
class JourneyInput:
    kind: str  # positive | negative | drr
    person_id: str
    detention_id: str = ""
    order_id: str = ""
    lapse_on_release: bool = False


@dataclass(frozen=True)
class Step:
    """One activity's input: the journey and which of its steps (``warning``, ``sample``…, or a record)."""

    journey: JourneyInput
    name: str
    n: int = 0


@dataclass(frozen=True)
class JourneyTimes:
    """Worker clock readings (seconds since the epoch): the result recorded, the assessment written."""

    result_at: float = 0.0
    assessment_at: float = 0.0


async def _step(activity: str, step: Step) -> Any:
    """One effect, as a local activity (retried until it succeeds; each is idempotent)."""
    return await workflow.execute_local_activity(activity, step, start_to_close_timeout=timedelta(seconds=60))


@workflow.defn
class CustodyJourney:
    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyTimes:
        if journey.kind == "drr":
            await self._drr(journey)
            return JourneyTimes()
        return await self._detention(journey)

    async def _detention(self, journey: JourneyInput) -> JourneyTimes:
        await _step("book_in", Step(journey, "book_in"))
        await _step("register_arrest", Step(journey, "arrest"))
        await _step("breach_booking", Step(journey, "booking"))
        for action in ("warning", "sample"):
            await _step("detention_step", Step(journey, action))
        result_at: float = await _step("detention_step", Step(journey, "result"))
        assessment_at = 0.0
        if journey.kind == "positive":  # A1: a positive test requires an initial assessment
            assessment_at = await _step("require_assessment", Step(journey, "assessment"))
        await _step("detention_step", Step(journey, "release"))
        if journey.kind == "positive" and journey.lapse_on_release:  # A1: lapses on a confirmed release
            await _step("lapse_assessment", Step(journey, "lapse"))
        return JourneyTimes(result_at, assessment_at)

    async def _drr(self, journey: JourneyInput) -> None:
        await _step("make_order", Step(journey, "order"))
        for n in (1, 2):
            await _step("record_compliance", Step(journey, "absence", n))
            if n == 1:  # D2: the first unacceptable absence is warned
                await _step("warn_order", Step(journey, "warning", n))
            else:  # D3: the second within the year is a breach
                await _step("open_breach", Step(journey, "breach", n))

"""What each detention command does, shared by the HTTP routes and the inbound Kafka commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from dipflow_custody.domain.detention import Change, Detention, DrugResult
from dipflow_custody.domain.eligibility import TestDecision
from dipflow_custody.entrypoints.bodies import (
    At,
    ChargeIn,
    ConfirmationIn,
    FurtherOffence,
    InspectorIn,
    RefusalIn,
    ReleaseIn,
    ResultIn,
    SampleIn,
)

Action = Callable[[Detention, TestDecision], Change | None]


def _offence(b: FurtherOffence) -> Action:
    return lambda d, _: d.add_offence(b.offence.domain(), b.when(), further_arrest=b.further_arrest)


def _inspector(b: InspectorIn) -> Action:
    return lambda d, _: d.record_inspector_decision(
        b.decision,
        b.when(),
        rank=b.rank,
        grounds=b.grounds,
        oral=b.oral,
        written_confirmation_at=b.written_confirmation_at,
    )


def _result(b: ResultIn) -> Action:
    drug = DrugResult(b.drug.lower(), b.result, b.medication_declared, b.disputed, b.accepts_heroin_use)
    return lambda d, _: d.record_result(drug, b.when())


ACTIONS: dict[str, tuple[type[BaseModel], Callable[[Any], Action]]] = {
    "add_offence": (FurtherOffence, _offence),
    "charge": (ChargeIn, lambda b: lambda d, _: d.charge(set(b.codes), b.when())),
    "inspector_decision": (InspectorIn, _inspector),
    "appropriate_adult": (At, lambda b: lambda d, _: d.appropriate_adult_arrived(b.when())),
    "warning": (At, lambda b: lambda d, _: d.give_warning(b.when())),
    "sample": (SampleIn, lambda b: lambda d, decision: d.take_sample(decision, b.when(), b.sample_type)),
    "result": (ResultIn, _result),
    "confirmatory_result": (
        ConfirmationIn,
        lambda b: lambda d, _: d.record_confirmation(b.drug.lower(), b.result, b.when()),
    ),
    "refusal": (
        RefusalIn,
        lambda b: lambda d, _: d.record_refusal(b.when(), good_cause=b.good_cause, as_offence=b.as_offence),
    ),
    "release": (ReleaseIn, lambda b: lambda d, _: d.release(b.release, b.when())),
}

"""What each detention command does, shared by the HTTP routes and the inbound Kafka commands.

An action's name is its route's last path segment with ``_`` for ``-`` (``POST /v1/detentions/{id}/results`` is
``results``), so a custody system that knows the HTTP API knows the command topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel

from dipflow_custody.contracts.bodies import (
    At,
    ChargeIn,
    ConfirmationIn,
    DisposalIn,
    FurtherOffence,
    InspectorIn,
    RefusalIn,
    ReleaseIn,
    ResultIn,
    SampleIn,
    WrittenConfirmationIn,
)
from dipflow_custody.domain.detention import Detention, DrugResult, Stations
from dipflow_custody.domain.events import DetentionEvent

Action = Callable[[Detention, Stations], DetentionEvent | None]


@dataclass(frozen=True)
class Reporter:
    """Who reports a command and what the rules need from its context: the officer or system (``by``), the time
    a command without its own ``at`` happened (``default_at``), and the working days allowed for a confirmatory
    result (T12)."""

    by: str
    default_at: datetime
    confirmation_working_days: int
    from_token: bool = True
    """True over HTTP: the signed-in officer is the one recorded, whatever a body's ``by`` says."""

    def who(self, stated: str | None) -> str:
        return self.by if self.from_token or not stated else stated


class Command(NamedTuple):
    body: type[BaseModel]
    build: Callable[[Any, Reporter], Action]


def _offences(b: FurtherOffence, r: Reporter) -> Action:
    return lambda d, _: d.add_offence(
        b.offence.domain(), b.when(r.default_at), further_arrest=b.further_arrest
    )


def _inspector(b: InspectorIn, r: Reporter) -> Action:
    return lambda d, _: d.record_inspector_decision(
        b.decision,
        b.when(r.default_at),
        by=r.who(b.by),
        rank=b.rank,
        grounds=b.grounds,
        oral=b.oral,
        written_confirmation_at=b.written_confirmation_at,
    )


def _results(b: ResultIn, r: Reporter) -> Action:
    drug = DrugResult(b.drug, b.result, b.medication_declared, b.disputed, b.accepts_heroin_use)
    return lambda d, _: d.record_result(drug, b.when(r.default_at))


def _refusal(b: RefusalIn, r: Reporter) -> Action:
    return lambda d, stations: d.record_refusal(
        stations, b.when(r.default_at), good_cause=b.good_cause, as_offence=b.as_offence
    )


COMMANDS: dict[str, Command] = {
    "offences": Command(FurtherOffence, _offences),
    "offence_disposal": Command(
        DisposalIn, lambda b, r: lambda d, _: d.dispose_of_offence(b.code, b.disposal, b.when(r.default_at))
    ),
    "charge": Command(ChargeIn, lambda b, r: lambda d, _: d.charge(set(b.codes), b.when(r.default_at))),
    "inspector_decision": Command(InspectorIn, _inspector),
    "written_confirmation": Command(
        WrittenConfirmationIn,
        lambda b, r: lambda d, _: d.confirm_in_writing(b.when(r.default_at), r.who(b.by)),
    ),
    "person_told": Command(
        At, lambda b, r: lambda d, _: d.tell_person_of_authorisation(b.when(r.default_at))
    ),
    "appropriate_adult": Command(
        At, lambda b, r: lambda d, _: d.appropriate_adult_arrived(b.when(r.default_at))
    ),
    "warning": Command(At, lambda b, r: lambda d, _: d.give_warning(b.when(r.default_at))),
    "sample": Command(
        SampleIn,
        lambda b, r: lambda d, stations: d.take_sample(stations, b.when(r.default_at), b.sample_type),
    ),
    "results": Command(ResultIn, _results),
    "confirmation_dispatch": Command(
        At,
        lambda b, r: (
            lambda d, _: d.dispatch_for_confirmation(b.when(r.default_at), r.confirmation_working_days)
        ),
    ),
    "confirmatory_result": Command(
        ConfirmationIn,
        lambda b, r: lambda d, _: d.record_confirmation(b.drug, b.result, b.when(r.default_at)),
    ),
    "refusal": Command(RefusalIn, _refusal),
    "release": Command(
        ReleaseIn,
        lambda b, r: (
            lambda d, _: d.release(b.release, b.when(r.default_at), lapse_confirmed=b.lapse_confirmed)
        ),
    ),
}

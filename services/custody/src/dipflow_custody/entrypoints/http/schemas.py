"""What the custody API answers: the views of a detention and its decision."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from dipflow_custody.contracts.bodies import NotificationIn
from dipflow_custody.domain.detention import Authorisation, Detention
from dipflow_custody.domain.eligibility import TestDecision
from dipflow_custody.service_layer.detentions import Outcome


class DecisionView(BaseModel):
    stage: str
    outcome: str
    rule_ids: list[str]
    reason: str
    appropriate_adult_required: bool
    inspector_decision_requested: bool


class AuthorisationView(BaseModel):
    """T3: the inspector's decision as it stands on the custody record."""

    decision: str
    by: str
    rank: str
    grounds: str
    at: datetime
    oral: bool
    written_confirmation: str = Field(
        description="pending (oral, not yet confirmed), confirmed or not_needed"
    )
    written_confirmed_at: datetime | None
    written_confirmed_by: str | None
    person_told_at: datetime | None


class TimeLimitView(BaseModel):
    until: datetime
    rule_ids: list[str]
    reason: str


class ConfirmationView(BaseModel):
    """T12: disputed positives sent for confirmatory analysis."""

    awaiting: list[str]
    dispatched_at: datetime | None
    due_at: datetime | None
    overdue: bool
    results: dict[str, str]


class OffenceView(BaseModel):
    code: str = Field(
        description="The catalogue code; for an offence not in the catalogue, the custody system's"
    )
    offence_date: date
    attempt: bool
    drug: str | None
    drug_class: str | None
    statute: str
    section: str
    title: str
    in_catalogue: bool = Field(
        description="False: recorded as the custody system gave it, for an admin to classify"
    )
    wording: str | None = None
    system_code: str | None = None


class DetentionView(BaseModel):
    detention_id: str
    person_id: str
    suite: str
    arrested_at: datetime
    booked_in_at: datetime
    offences: list[OffenceView]
    released_for: dict[str, str] = Field(
        default_factory=dict, description="T9: offences the person was released for, and how"
    )
    charged_at: datetime | None
    authorisation: AuthorisationView | None = None
    appropriate_adult_arrived_at: datetime | None = None
    warned_at: datetime | None
    sample_taken_at: datetime | None
    refused_at: datetime | None = None
    results: dict[str, str] | None = Field(description="Per drug; null when withheld (T13)")
    results_withheld: str | None = Field(default=None, description="Why the results are not shown (T13)")
    confirmation: ConfirmationView | None = None
    released_at: datetime | None
    ra1_to_serve: list[str] = Field(
        default_factory=list,
        description="A1: required assessments proposed for the positive result whose RA1 is still to serve; "
        "releasing the person first lapses them",
    )
    time_limit: TimeLimitView | None = Field(
        default=None, description="T10: until when the person may be held for a sample under the decision"
    )
    decision: DecisionView


def _authorisation(a: Authorisation | None) -> AuthorisationView | None:
    if a is None:
        return None
    return AuthorisationView(
        decision=str(a.decision),
        by=a.by,
        rank=a.rank,
        grounds=a.grounds,
        at=a.at,
        oral=a.oral,
        written_confirmation=a.written_confirmation,
        written_confirmed_at=a.written_confirmed_at,
        written_confirmed_by=a.written_confirmed_by,
        person_told_at=a.person_told_at,
    )


def _confirmation(d: Detention) -> ConfirmationView | None:
    if d.dispatched_at is None and not d.awaiting_confirmation and not d.confirmations:
        return None
    return ConfirmationView(
        awaiting=d.awaiting_confirmation,
        dispatched_at=d.dispatched_at,
        due_at=d.confirmation_due_at,
        overdue=d.confirmation_overdue,
        results={k: str(v) for k, v in d.confirmations.items()},
    )


def detention_view(outcome: Outcome) -> DetentionView:
    d, decision = outcome.detention, outcome.decision
    limit = d.time_limit(decision) if d.awaiting_sample else None
    return DetentionView(
        detention_id=d.detention_id,
        person_id=d.person_id,
        suite=d.suite,
        arrested_at=d.arrested_at,
        booked_in_at=d.booked_in_at,
        offences=[
            OffenceView(
                code=o.code,
                offence_date=o.offence_date,
                attempt=o.attempt,
                drug=o.drug,
                drug_class=o.drug_class,
                statute=o.provision.statute,
                section=o.provision.section,
                title=o.title or o.label,
                in_catalogue=o.in_catalogue,
                wording=o.wording,
                system_code=o.system_code,
            )
            for o in d.offences
        ],
        released_for={code: str(x.disposal) for code, x in d.disposals.items()},
        charged_at=d.charged_at,
        authorisation=_authorisation(d.authorisation),
        appropriate_adult_arrived_at=d.adult_arrived_at,
        warned_at=d.warned_at,
        sample_taken_at=d.sample_taken_at,
        refused_at=d.refused_at,
        results={k: str(r.value) for k, r in d.results.items()},
        confirmation=_confirmation(d),
        released_at=d.released_at,
        ra1_to_serve=sorted(d.ra1_to_serve),
        time_limit=TimeLimitView(until=limit.until, rule_ids=list(limit.rule_ids), reason=limit.reason)
        if limit
        else None,
        decision=decision_view(decision),
    )


def decision_view(decision: TestDecision) -> DecisionView:
    return DecisionView(
        stage=str(decision.stage),
        outcome=str(decision.outcome),
        rule_ids=list(decision.rule_ids),
        reason=decision.reason,
        appropriate_adult_required=decision.appropriate_adult_required,
        inspector_decision_requested=decision.inspector_decision_requested,
    )


class PpoStatusView(BaseModel):
    person_id: str
    is_ppo: bool
    borough: str | None


class DrugView(BaseModel):
    name: str
    synonyms: list[str]
    classes: list[dict[str, Any]]
    specified: list[dict[str, Any]]


class OffenceCodeView(BaseModel):
    code: str
    statute: str
    section: str
    title: str
    category: str = "other"
    arrest_power: bool = False


class OpenItem(BaseModel):
    kind: str = Field(
        description="inspector_decision_requested (T4), written_confirmation_pending (T3), "
        "confirmation_overdue (T12) or ra1_to_serve (A1)"
    )
    detention_id: str
    person_id: str
    suite: str
    since: datetime
    rule_ids: list[str]
    detail: str


class NotificationView(NotificationIn):
    id: int


class K5Row(BaseModel):
    suite: str
    period: str
    tests: int
    kit_cost_gbp: Decimal
    set_up_cost_gbp: Decimal = Field(
        Decimal(0),
        description="The machine and the officers' training, in the period of the suite's first test",
    )
    total_cost_gbp: Decimal = Decimal(0)

"""Request bodies of the custody API (also the bodies of inbound Kafka commands)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, ValidationInfo, field_validator

from dipflow.http.params import AwareInstant, Day, PersonId
from dipflow_custody.domain.catalogue import Offence, drug_vocabulary
from dipflow_custody.domain.detention import Disposal, ReleaseKind, ResultValue, classify_offence_drug
from dipflow_custody.domain.eligibility import InspectorDecision
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod


class OffenceIn(BaseModel):
    code: str = Field(description="Statute and section code, e.g. TA1968-s1 (see GET /v1/offence-codes)")
    offence_date: Day
    attempt: StrictBool = False
    drug: str | None = Field(
        default=None,
        max_length=50,
        description="For Misuse of Drugs Act offences: a drug name or synonym from the drug vocabulary "
        "(GET /v1/drugs); its class on the offence date comes from the vocabulary",
    )
    drug_class: Literal["A", "B", "C"] | None = Field(
        default=None,
        description="Optional: if given it must agree with the vocabulary's class of the drug on the offence date",
    )

    @field_validator("drug_class")
    @classmethod
    def _class_agrees(cls, value: str | None, info: ValidationInfo) -> str | None:
        drug, day = info.data.get("drug"), info.data.get("offence_date")
        found = drug_vocabulary().find(drug) if drug and value else None
        if found is not None and day is not None and found.class_on(day) != value:
            actual = found.class_on(day)
            said = f"Class {actual}" if actual else "not a controlled drug"
            raise ValueError(f"{found.name} was {said} on {day:%d %b %Y}, not Class {value}")
        return value

    def domain(self) -> Offence:
        return classify_offence_drug(Offence(self.code, self.offence_date, self.attempt, self.drug))


class BookIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "person_id": "08/123456X",
                    "name": "A Person",
                    "date_of_birth": "1963-02-11",
                    "home_area": "lambeth",
                    "suite": "MET-BRIXTON",
                    "arrested_at": "2008-06-01T10:00:00Z",
                    "offences": [{"code": "TA1968-s1", "offence_date": "2008-06-01"}],
                }
            ]
        }
    }

    person_id: PersonId
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: Day
    home_area: str = Field(min_length=2, max_length=60, pattern=r"^[a-z-]+$")
    suite: str = Field(min_length=2, max_length=60)
    arrested_at: AwareInstant
    booked_in_at: AwareInstant | None = None
    offences: list[OffenceIn] = Field(min_length=1, max_length=20)


class At(BaseModel):
    at: AwareInstant | None = Field(
        default=None,
        description="When it happened. If omitted: the time of the request (HTTP), or the command's occurred_at "
        "(Kafka). Rules about time are judged on this time.",
    )

    def when(self, default: datetime | None = None) -> datetime:
        return self.at or default or datetime.now(UTC)


class FurtherOffence(At):
    offence: OffenceIn
    further_arrest: StrictBool = False


class ChargeIn(At):
    codes: list[str] = Field(min_length=1)


class InspectorIn(At):
    decision: InspectorDecision
    rank: Literal["inspector", "chief_inspector", "superintendent", "chief_superintendent"]
    grounds: str = Field(min_length=5, max_length=2000)
    oral: StrictBool = False
    written_confirmation_at: AwareInstant | None = Field(
        default=None, description="For an oral decision already confirmed in writing: when"
    )
    by: str | None = Field(
        default=None,
        max_length=100,
        description="Who decided (Kafka commands); over HTTP the signed-in inspector is recorded instead",
    )


class WrittenConfirmationIn(At):
    by: str | None = Field(
        default=None,
        max_length=100,
        description="Who confirms (Kafka commands); over HTTP the signed-in inspector is recorded instead",
    )


class DisposalIn(At):
    code: str = Field(min_length=2, max_length=60, description="An offence recorded in this detention")
    disposal: Disposal = Field(description="How the person was released for that offence (T9)")


class SampleIn(At):
    sample_type: Literal["saliva", "urine"] = "saliva"


class ResultIn(At):
    drug: str = Field(min_length=2, max_length=50)
    result: ResultValue
    medication_declared: str | None = Field(default=None, max_length=200)
    disputed: StrictBool = False
    accepts_heroin_use: StrictBool = False


class RefusalIn(At):
    good_cause: StrictBool
    as_offence: StrictBool | None = None


class ReleaseIn(At):
    release: ReleaseKind


class ConfirmationIn(At):
    drug: str = Field(min_length=2, max_length=50)
    result: ResultValue


class NotificationIn(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"place": "MET-CAMDEN", "kind": "under_18_testing", "valid_from": "2009-04-01"}]
        }
    }

    place: str = Field(
        min_length=2, max_length=60, description="A custody suite id, or an area for assessments/bail"
    )
    kind: NotificationKind
    valid_from: Day
    valid_to: Day | None = None

    def period(self) -> NotificationPeriod:
        return NotificationPeriod(self.place, self.kind, self.valid_from, self.valid_to)


class EndNotification(BaseModel):
    valid_to: Day


BODIES: dict[str, type[BaseModel]] = {
    "offences": FurtherOffence,
    "offence_disposal": DisposalIn,
    "charge": ChargeIn,
    "inspector_decision": InspectorIn,
    "written_confirmation": WrittenConfirmationIn,
    "person_told": At,
    "appropriate_adult": At,
    "warning": At,
    "sample": SampleIn,
    "results": ResultIn,
    "confirmation_dispatch": At,
    "confirmatory_result": ConfirmationIn,
    "refusal": RefusalIn,
    "release": ReleaseIn,
}
"""The body of each action on a detention: its route's (``POST /v1/detentions/{id}/<action with - for _>``)."""

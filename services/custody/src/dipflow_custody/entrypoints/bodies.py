"""Request bodies of the custody API (also the bodies of inbound Kafka commands)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from dipflow.http.params import AwareInstant, Day
from dipflow_custody.domain.catalogue import Offence
from dipflow_custody.domain.detention import ReleaseKind, ResultValue
from dipflow_custody.domain.eligibility import InspectorDecision

PERSON_ID = r"^([0-9]{2,4}/[0-9]{1,7}[A-Z]|L-[A-Z0-9-]{3,30})$"


class OffenceIn(BaseModel):
    code: str = Field(description="Statute and section code, e.g. TA1968-s1 (see GET /v1/offence-codes)")
    offence_date: Day
    attempt: StrictBool = False
    drug: str | None = Field(default=None, max_length=50, description="For Misuse of Drugs Act offences")
    drug_class: Literal["A", "B", "C"] | None = None

    def domain(self) -> Offence:
        return Offence(self.code, self.offence_date, self.attempt, self.drug.lower() if self.drug else None,
                       self.drug_class)  # fmt: skip


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

    person_id: str = Field(pattern=PERSON_ID, description="PNC number (YY/NNNNNNNL) or local id (L-...)")
    name: str = Field(min_length=1, max_length=200)
    date_of_birth: Day
    home_area: str = Field(min_length=2, max_length=60, pattern=r"^[a-z-]+$")
    suite: str = Field(min_length=2, max_length=60)
    arrested_at: AwareInstant
    booked_in_at: AwareInstant | None = None
    offences: list[OffenceIn] = Field(min_length=1, max_length=20)


class At(BaseModel):
    at: AwareInstant | None = Field(default=None, description="When it happened; now if omitted")

    def when(self) -> datetime:
        return self.at or datetime.now(UTC)


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
    written_confirmation_at: AwareInstant | None = None


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

"""Request bodies of the custody API (also the bodies of inbound Kafka commands)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, ValidationInfo, field_validator, model_validator

from dipflow.http.params import AwareInstant, Day, PersonId
from dipflow.people import AREA_CODE_PATTERN
from dipflow_custody.domain.catalogue import Offence, OffenceIntake, OffenceType, drug_vocabulary, resolve
from dipflow_custody.domain.detention import Disposal, ReleaseKind, ResultValue
from dipflow_custody.domain.drugs import ClassPeriod, Drug, Period
from dipflow_custody.domain.eligibility import InspectorDecision
from dipflow_custody.domain.notifications import NotificationKind, NotificationPeriod
from dipflow_custody.domain.reference import Area, AreaKind, Suite, Version


class OffenceIn(BaseModel):
    """An offence as the custody system names it: by its statute and section (every offence is accepted; one the
    catalogue does not know is recorded as given and is not a trigger offence unless Schedule 6 names its
    provision), or by a catalogue code."""

    code: str | None = Field(
        default=None,
        max_length=60,
        description="A catalogue code, e.g. TA1968-s1 (GET /v1/offence-codes); optional when statute and section "
        "are given",
    )
    statute: str | None = Field(
        default=None,
        min_length=3,
        max_length=200,
        description='e.g. "Road Traffic Act 1988", or "Common law"',
    )
    section: str | None = Field(
        default=None,
        max_length=40,
        description='with subsections, e.g. "s.170(4)"; empty for a common-law offence',
    )
    wording: str | None = Field(
        default=None, max_length=300, description="The custody system's words for the offence, kept as given"
    )
    system_code: str | None = Field(
        default=None, max_length=40, description="The custody system's own offence code, kept as given"
    )
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

    @model_validator(mode="after")
    def _named(self) -> OffenceIn:
        if not self.code and not self.statute:
            raise ValueError("name the offence by statute and section, or by a catalogue code")
        if self.statute and self.section is None and self.statute.strip().casefold() != "common law":
            raise ValueError("a statutory offence needs its section (e.g. s.1)")
        return self

    def intake(self) -> OffenceIntake:
        return OffenceIntake(
            offence_date=self.offence_date,
            code=self.code,
            statute=self.statute,
            section=self.section,
            attempt=self.attempt,
            drug=self.drug,
            wording=self.wording,
            system_code=self.system_code,
        )

    def domain(self) -> Offence:
        """The offence to record, named from the catalogue in force (raises for a code it does not know given
        without a statute)."""
        return resolve(self.intake())


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
    home_area: str = Field(min_length=2, max_length=60, pattern=AREA_CODE_PATTERN)
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
    lapse_confirmed: bool = Field(
        False,
        description="A1: the officer confirms that a required assessment whose RA1 is not served lapses with "
        "this release; without it such a release is refused (409, rule A1)",
    )


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


class AreaIn(BaseModel):
    """An area as of a date: a borough and the force covering it, or a force (``force`` left out)."""

    code: str = Field(pattern=AREA_CODE_PATTERN, examples=["newham"])
    name: str = Field(min_length=2, max_length=120)
    kind: AreaKind
    force: str | None = Field(default=None, max_length=60, description="For a borough: the force covering it")
    effective_from: Day | None = Field(default=None, description="From when this is so (default today)")

    def version(self, today: date) -> Version[Area]:
        area = Area(
            self.code, self.name, self.kind, self.force or (self.code if self.kind is AreaKind.force else "")
        )
        return Version(self.effective_from or today, area)


class SuiteIn(BaseModel):
    """A custody suite as of a date (a move to another borough is a new version from the day it moves)."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9-]{2,59}$", examples=["MET-FOREST-GATE"])
    name: str = Field(min_length=2, max_length=120)
    force: str = Field(min_length=2, max_length=60)
    borough: str = Field(min_length=2, max_length=60)
    address: str | None = Field(default=None, max_length=300)
    effective_from: Day | None = Field(default=None, description="From when this is so (default today)")

    def version(self, today: date) -> Version[Suite]:
        suite = Suite(self.code, self.name, self.force, self.borough, self.address)
        return Version(self.effective_from or today, suite)


class OffenceTypeIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9().\-]{1,59}$", examples=["RTA1988-s170(4)"])
    statute: str = Field(min_length=3, max_length=200, examples=["Road Traffic Act 1988"])
    section: str = Field(max_length=40, examples=["s.170(4)"], description="empty for a common-law offence")
    title: str = Field(min_length=3, max_length=200, examples=["failing to stop after an accident"])
    category: str = Field(default="other", description="e.g. motoring, public order (GET /v1/offence-codes)")
    arrest_power: StrictBool = False

    def offence_type(self) -> OffenceType:
        return OffenceType(
            self.code, self.statute, self.section, self.title, self.category, self.arrest_power
        )


class SpanIn(BaseModel):
    valid_from: Day = Field(alias="from")
    valid_to: Day | None = Field(default=None, alias="to")

    def period(self) -> Period:
        return Period(self.valid_from, self.valid_to)


class ClassIn(SpanIn):
    drug_class: Literal["A", "B", "C"] = Field(alias="class")


class DrugIn(BaseModel):
    """A drug as the vocabulary holds it: its synonyms, its class over time and when it was a specified Class A
    drug for testing (T14)."""

    name: str = Field(min_length=2, max_length=50, pattern=r"^[a-z0-9][a-z0-9 -]*$")
    synonyms: list[str] = Field(default_factory=list, max_length=30)
    classes: list[ClassIn] = Field(min_length=1, max_length=10)
    specified: list[SpanIn] = Field(default_factory=list, max_length=10)

    def drug(self) -> Drug:
        return Drug(
            self.name,
            tuple(s.strip().lower() for s in self.synonyms if s.strip()),
            tuple(ClassPeriod(c.drug_class, c.period()) for c in self.classes),
            tuple(s.period() for s in self.specified),
        )


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

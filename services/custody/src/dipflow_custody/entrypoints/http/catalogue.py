"""/v1/offence-codes and /v1/drugs: the offence catalogue and the drug vocabulary a force manages (T1, T14).
Everyone signed in reads them; admins change them (audited)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from dipflow_custody.contracts.bodies import DrugIn, OffenceTypeIn
from dipflow_custody.domain.catalogue import OffenceType
from dipflow_custody.domain.drugs import Drug
from dipflow_custody.entrypoints.http.deps import Admin, SignedIn
from dipflow_custody.entrypoints.http.schemas import DrugView, OffenceCodeView
from dipflow_custody.service_layer import catalogue

router = APIRouter(prefix="/v1", tags=["reference data"])


def offence_view(o: OffenceType) -> OffenceCodeView:
    return OffenceCodeView(
        code=o.code,
        statute=o.statute,
        section=o.section,
        title=o.title,
        category=o.category,
        arrest_power=o.arrest_power,
    )


def drug_view(d: Drug) -> DrugView:
    return DrugView(
        name=d.name,
        synonyms=list(d.synonyms),
        classes=[
            {"class": c.drug_class, "from": c.period.valid_from, "to": c.period.valid_to} for c in d.classes
        ],
        specified=[{"from": p.valid_from, "to": p.valid_to} for p in d.specified],
    )


@router.get("/offence-codes", response_model=list[OffenceCodeView], summary="The offence catalogue")
async def offence_codes(ctx: SignedIn) -> list[OffenceCodeView]:
    async with ctx.unit_of_work() as uow:
        snapshot = await catalogue.refresh(uow)
    return sorted((offence_view(o) for o in snapshot.offences), key=lambda v: v.code)


@router.post(
    "/offence-codes",
    status_code=201,
    response_model=OffenceCodeView,
    summary="Add an offence to the catalogue, or change one (admins)",
)
async def define_offence(body: OffenceTypeIn, ctx: Admin) -> OffenceCodeView:
    async with ctx.unit_of_work() as uow:
        return offence_view(await catalogue.define_offence(uow, body.offence_type()))


class UnclassifiedView(BaseModel):
    statute: str
    section: str
    wordings: list[str]
    system_codes: list[str]
    times_recorded: int
    first_recorded_on: date
    last_recorded_on: date


@router.get(
    "/offence-codes/unclassified",
    response_model=list[UnclassifiedView],
    summary="Offences recorded as given because the catalogue does not know them, to classify (admins)",
)
async def unclassified(ctx: Admin) -> list[UnclassifiedView]:
    async with ctx.unit_of_work() as uow:
        found = await catalogue.unclassified(uow)
    return [UnclassifiedView(**vars(u)) for u in found]


@router.get("/drugs", response_model=list[DrugView], summary="T14: the controlled-drug vocabulary")
async def drugs(ctx: SignedIn) -> list[DrugView]:
    async with ctx.unit_of_work() as uow:
        snapshot = await catalogue.refresh(uow)
    return sorted((drug_view(d) for d in snapshot.drugs), key=lambda v: v.name)


@router.post(
    "/drugs",
    status_code=201,
    response_model=DrugView,
    summary="T14: add a drug or change one (synonyms, class over time, specified periods) (admins)",
)
async def define_drug(body: DrugIn, ctx: Admin) -> DrugView:
    async with ctx.unit_of_work() as uow:
        return drug_view(await catalogue.define_drug(uow, body.drug()))

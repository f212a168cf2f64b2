"""The offence catalogue and the drug vocabulary as managed data (docs/rules.md T1, T14): admins define offences
and drugs (one at a time or by CSV), every change a new version with who made it; the rules use the versions in
force, installed into the domain when the data changed (:func:`refresh`, at the start of every command)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from itertools import pairwise
from typing import Any

from dipflow.errors import Conflict, InvalidInput
from dipflow.uow import UnitOfWork
from dipflow.working_days import london_today
from dipflow_custody.adapters import reference, views
from dipflow_custody.domain.catalogue import (
    CATEGORIES,
    OffenceCatalogue,
    OffenceType,
    Provision,
    ReferenceSnapshot,
    current_reference,
    install_reference,
    normalise_section,
    shipped_catalogue,
    shipped_drugs,
)
from dipflow_custody.domain.drugs import Drug, DrugVocabulary
from dipflow_custody.domain.reference import OFFENCE_CODE, RowError, latest


async def refresh(uow: UnitOfWork) -> ReferenceSnapshot:
    """The catalogue and vocabulary in force, reloaded and installed when the managed data changed since."""
    version = await reference.version(uow)
    snapshot = current_reference()
    if version == snapshot.version:
        return snapshot
    offences = [latest(v) for v in (await reference.histories(uow, "offence")).values()]
    drugs = [latest(v) for v in (await reference.histories(uow, "drug")).values()]
    snapshot = ReferenceSnapshot(
        version,
        OffenceCatalogue(o for o in offences if o is not None) if offences else shipped_catalogue(),
        DrugVocabulary(d for d in drugs if d is not None) if drugs else shipped_drugs(),
    )
    install_reference(snapshot)
    return snapshot


def _actor(uow: UnitOfWork) -> str:
    return uow.actor.subject if uow.actor is not None else f"system:{uow.producer.name}"


def check_offence(offence: OffenceType, catalogue: OffenceCatalogue) -> OffenceType:
    """An offence type as it will be kept, or why it cannot be (field and reason)."""
    if not OFFENCE_CODE.match(offence.code):
        raise InvalidInput("a code is letters, digits and . - ( )", field="code", reason="bad code")
    if offence.category not in CATEGORIES:
        raise InvalidInput("unknown category", field="category", reason=f"one of: {', '.join(CATEGORIES)}")
    section = normalise_section(offence.section, field="section")
    kept = OffenceType(
        offence.code,
        " ".join(offence.statute.split()),
        section,
        offence.title.strip(),
        offence.category,
        offence.arrest_power,
    )
    holder = catalogue.find(Provision(kept.statute, section))
    if holder is not None and holder.code != kept.code:
        raise Conflict(
            f"{kept.statute} {section} is in the catalogue as {holder.code}", kind="provision-catalogued"
        )
    return kept


async def define_offence(uow: UnitOfWork, offence: OffenceType) -> OffenceType:
    """Add an offence to the catalogue, or change one (a new version): T1 then names recorded offences of its
    provision from it."""
    catalogue = (await refresh(uow)).offences
    kept = check_offence(offence, catalogue)
    body = {k: v for k, v in asdict(kept).items() if k != "code"}
    await reference.record(uow, "offence", kept.code, london_today(), body, _actor(uow))
    await uow.audit(
        "offence_type.define", detail={"code": kept.code, "provision": f"{kept.statute} {kept.section}"}
    )
    await refresh(uow)
    return kept


def check_offence_rows(rows: list[tuple[int, OffenceType]], catalogue: OffenceCatalogue) -> list[RowError]:
    """Each row as a single definition would be checked, and no two rows for one code or one provision."""
    errors: list[RowError] = []
    codes = Counter(row.code for _, row in rows)
    provisions: dict[tuple[str, str], str] = {}
    for line, row in rows:
        try:
            kept = check_offence(row, catalogue)
        except InvalidInput as exc:
            errors.append(RowError(line, exc.field, exc.reason))
            continue
        except Conflict as exc:
            errors.append(RowError(line, "section", exc.detail))
            continue
        if codes[row.code] > 1:
            errors.append(RowError(line, "code", "the file has this code twice"))
        key = Provision(kept.statute, kept.section).key
        if key in provisions and provisions[key] != row.code:
            errors.append(RowError(line, "section", f"the file has this provision also as {provisions[key]}"))
        provisions.setdefault(key, row.code)
    return errors


async def import_offences(uow: UnitOfWork, rows: list[tuple[int, OffenceType]]) -> list[RowError]:
    """Every row defined, or none: a file with any bad row (line, field, reason) changes nothing."""
    catalogue = (await refresh(uow)).offences
    errors = check_offence_rows(rows, catalogue)
    if errors:
        return errors
    today, by = london_today(), _actor(uow)
    for _, row in rows:
        kept = check_offence(row, catalogue)
        await reference.record(
            uow, "offence", kept.code, today, {k: v for k, v in asdict(kept).items() if k != "code"}, by
        )
    await uow.audit("offence_type.import", detail={"rows": len(rows)})
    await refresh(uow)
    return []


@dataclass(frozen=True)
class Unclassified:
    """Offences recorded as given because the catalogue did not know them, for an admin to classify."""

    statute: str
    section: str
    wordings: list[str]
    system_codes: list[str]
    times_recorded: int
    first_recorded_on: date
    last_recorded_on: date


async def unclassified(uow: UnitOfWork) -> list[Unclassified]:
    """Recorded offences whose provision the catalogue still does not know, most recorded first."""
    catalogue = (await refresh(uow)).offences
    found = []
    for row in await views.uncatalogued_offences(uow):
        if catalogue.find(Provision(row.statute, row.section)) is None:
            found.append(Unclassified(**asdict(row)))
    return sorted(found, key=lambda u: (-u.times_recorded, u.statute, u.section))


def check_drug(drug: Drug) -> Drug:
    for i, c in enumerate(drug.classes):
        if c.drug_class not in ("A", "B", "C"):
            raise InvalidInput("a class is A, B or C", field=f"classes.{i}.class", reason="A, B or C")
    spans = sorted((c.period for c in drug.classes), key=lambda p: p.valid_from)
    for before, after in pairwise(spans):
        if before.valid_to is None or before.valid_to >= after.valid_from:
            raise InvalidInput(
                "a drug has one class on any day", field="classes", reason="the class periods overlap"
            )
    for i, period in enumerate(drug.specified):
        if not any(c.drug_class == "A" and c.period.covers(period.valid_from) for c in drug.classes):
            raise InvalidInput(
                "only a Class A drug can be specified for testing (T14)",
                field=f"specified.{i}.from",
                reason="the drug is not Class A on that day",
            )
    return drug


async def define_drug(uow: UnitOfWork, drug: Drug) -> Drug:
    """Add a drug or change one (its synonyms, its class over time, its specified periods): a reclassification
    or a newly specified drug is data (T14)."""
    vocabulary = (await refresh(uow)).drugs
    check_drug(drug)
    for name in (drug.name, *drug.synonyms):
        holder = vocabulary.find(name)
        if holder is not None and holder.name != drug.name:
            raise Conflict(f"{name!r} already names {holder.name}", kind="drug-name-taken")
    await reference.record(uow, "drug", drug.name, london_today(), drug_body(drug), _actor(uow))
    await uow.audit("drug.define", detail={"name": drug.name})
    await refresh(uow)
    return drug


def drug_body(drug: Drug) -> dict[str, Any]:
    def span(p: Any) -> dict[str, str | None]:
        return {"from": p.valid_from.isoformat(), "to": p.valid_to.isoformat() if p.valid_to else None}

    return {
        "synonyms": list(drug.synonyms),
        "classes": [{"class": c.drug_class, **span(c.period)} for c in drug.classes],
        "specified": [span(p) for p in drug.specified],
    }

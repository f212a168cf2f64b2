"""Restriction on bail (docs/rules.md B1-B3), pure.

B1 applies when all of: aged 18 or over; a positive s.63B sample for a specified Class A drug; charged with
MDA s.5(2) or s.5(3) involving a specified Class A drug, or substantial grounds that Class A misuse caused,
contributed to or motivated the offence; offered an assessment (or follow-up) and did not agree; the area
where the person would live has arrangements notified to the court. Every specified drug is Class A (MDA 1971
Sch 2 Part 1), so any positive for a specified drug counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CLASS_A_POSSESSION = frozenset({"MDA1971-s5(2)", "MDA1971-s5(3)"})


class Restriction(StrEnum):
    applies = "applies"  # B2: bail only if the court is satisfied there is no significant risk of offending
    condition = "condition"  # B3: agreed; if bailed, a condition to undergo assessment and any follow-up
    does_not_apply = "does_not_apply"
    pending = "pending"  # waiting to know whether the person agrees to an assessment


@dataclass(frozen=True)
class BailFacts:
    age: int | None
    positive_drugs: frozenset[str]
    charged_codes: frozenset[str]
    class_a_offence_codes: frozenset[str]  # offences in the detention recorded with a Class A drug
    substantial_grounds: bool | None  # None: not yet considered
    agreed_to_assessment: bool | None
    area_notified: bool
    home_area: str


@dataclass(frozen=True)
class BailDecision:
    restriction: Restriction
    rule_ids: tuple[str, ...]
    reasons: tuple[str, ...]


def evaluate_restriction(f: BailFacts) -> BailDecision:
    """What the court and CPS liaison must be told, with the reasons for each condition of B1."""
    unmet: list[str] = []
    met: list[str] = []
    if f.age is None or f.age < 18:
        unmet.append(f"aged {f.age if f.age is not None else 'unknown'}: the restriction is for 18 and over")
    else:
        met.append(f"aged {f.age}")
    if f.positive_drugs:
        met.append(f"positive for {', '.join(sorted(f.positive_drugs))} (specified Class A)")
    else:
        unmet.append("no positive sample for a specified Class A drug")
    class_a_charge = sorted(f.charged_codes & CLASS_A_POSSESSION & f.class_a_offence_codes)
    if class_a_charge:
        met.append(f"charged with {', '.join(class_a_charge)} involving a specified Class A drug")
    elif f.substantial_grounds:
        met.append("substantial grounds that Class A misuse caused, contributed to or motivated the offence")
    elif f.substantial_grounds is False:
        unmet.append(
            "not charged with Class A possession and no substantial grounds that Class A misuse was behind it"
        )
    if f.area_notified:
        met.append(f"arrangements notified for {f.home_area}")
    else:
        unmet.append(f"no assessment arrangements notified for {f.home_area}, where the person would live")
    if unmet:
        return BailDecision(Restriction.does_not_apply, ("B1",), tuple(unmet))
    waiting = []
    if not class_a_charge and f.substantial_grounds is None:
        waiting.append(
            "not yet recorded whether there are substantial grounds that Class A misuse was behind it"
        )
    if f.agreed_to_assessment is None:
        waiting.append("not yet known whether the person agrees to an assessment")
    if waiting:
        return BailDecision(Restriction.pending, ("B1",), (*met, *waiting))
    if f.agreed_to_assessment:
        return BailDecision(
            Restriction.condition,
            ("B1", "B3"),
            (
                *met,
                "agreed to an assessment: if bailed, bail carries a condition to undergo it and any follow-up",
            ),
        )
    return BailDecision(
        Restriction.applies,
        ("B1", "B2"),
        (*met, "offered an assessment and did not agree: bail may not be granted unless the court is satisfied "
               "there is no significant risk of offending on bail"),
    )  # fmt: skip

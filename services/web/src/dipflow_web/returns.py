"""The quarterly return of a borough: the strategy's indicators for one period, each with its definition, its
baseline and target where the strategy sets one, assembled from the services' measures (the same numbers as
their APIs and files). Pure: the page fetches, this adds up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Rows = list[dict[str, Any]]
COCAINE_GROUPS = ("cocaine or crack", "cocaine and opiates")
NONE = "\u2013"  # an en dash: nothing to show


@dataclass(frozen=True)
class Indicator:
    label: str
    value: Any
    note: str = ""


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    definition: str
    indicators: list[Indicator] = field(default_factory=list)
    problem: str | None = None
    """Why the section could not be filled (a service refused or did not answer)."""


def _sum(rows: Iterable[Mapping[str, Any]], key: str) -> int:
    return sum(int(r.get(key) or 0) for r in rows)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _pct(value: float | None) -> str:
    return NONE if value is None else f"{100 * value:.1f}%"


def _money(value: float | None) -> str:
    return NONE if value is None else f"£{value:,.2f}"


def k1_section(rows: Rows, borough: str, period: str) -> Section:
    row = next((r for r in rows if r["borough"] == borough and r["period"] == period), None)
    definition = (
        "5.1.1: PPOs considered for DIP intervention through an inspector's drug test authorisation (different "
        "PPOs whose arrest for a non-trigger offence went to an inspector), against the borough's baseline period "
        "taken pro rata, with the target increase (the strategy's: +50%)."
    )
    if row is None:
        return Section(
            "K1", "PPOs considered through an inspector", definition, [Indicator("PPOs considered", 0)]
        )
    target = row["target_ppos_considered"]
    met = NONE if row["target_met"] is None else "met" if row["target_met"] else "not met"
    return Section(
        "K1",
        "PPOs considered through an inspector",
        definition,
        [
            Indicator("PPOs considered", row["ppos_considered"]),
            Indicator(
                "Inspector decisions",
                row["inspector_decisions"],
                f"{row['authorised']} authorised, {row['declined']} declined",
            ),
            Indicator(
                "Baseline (pro rata)",
                NONE
                if row["baseline_ppos_considered"] is None
                else round(row["baseline_ppos_considered"], 1),
                row["baseline_period"] or "no baseline set",
            ),
            Indicator(
                "Target",
                NONE if target is None else round(target, 1),
                f"+{100 * (row['target_increase'] or 0):.0f}% on the baseline: {met}",
            ),
            Indicator("Share of PPO non-trigger arrests put to an inspector", _pct(row["share"])),
        ],
    )


def k2_section(rows: Rows, borough: str) -> Section:
    mine = [r for r in rows if r["borough"] == borough]
    return Section(
        "K2",
        "PPOs prosecuted or arrested for failing the requirements",
        "5.1.2: PPOs prosecuted for failing to attend or remain for a required assessment (DA05 s.12(3), s.14(3)); "
        "PPOs arrested for breaking a restriction-on-bail condition (BA76 s.7(3)).",
        [
            Indicator(
                "Prosecutions for failing to attend or remain", _sum(mine, "prosecuted_for_failing_to_attend")
            ),
            Indicator("PPOs prosecuted", _sum(mine, "people_prosecuted")),
            Indicator(
                "Arrests for breaking a bail condition", _sum(mine, "arrested_for_breaking_bail_condition")
            ),
            Indicator("PPOs arrested", _sum(mine, "people_arrested")),
            Indicator("PPOs' failures to attend notified to the police", _sum(mine, "failures_notified")),
            Indicator("… then charged for failing", _sum(mine, "failures_charged")),
            Indicator("… then released with no further action", _sum(mine, "failures_no_further_action")),
            Indicator("… not yet decided", _sum(mine, "failures_pending")),
        ],
    )


def k3_section(rows: Rows, borough: str, baseline: str) -> Section:
    mine = [r for r in rows if r["borough"] == borough]
    indicators = []
    for r in sorted(mine, key=lambda x: (x["source"], not x["ppo"])):
        who = f"{r['source'].replace('_', ' ')}, {'PPOs' if r['ppo'] else 'others'}"
        change = r["median_change"]
        note = f"baseline {baseline}: " + (
            "no arrests" if r["baseline_p50_hours"] is None else f"median {r['baseline_p50_hours']:.1f} h"
        )
        if change is not None:
            note += f", {'a reduction' if change < 0 else 'an increase'} of {abs(100 * change):.0f}%"
        median = NONE if r["p50_hours"] is None else f"{r['p50_hours']:.1f} h"
        indicators.append(
            Indicator(
                f"Median time to arrest ({who}; {r['count']} arrests, {r['still_open']} open)", median, note
            )
        )
    return Section(
        "K3",
        "Time taken to arrest",
        "5.2.1: hours from an arrest request to the arrest, by source and PPO status, against the same period a year "
        "before (a reduction is the aim).",
        indicators or [Indicator("Arrest requests", 0)],
    )


def k4_sections(by_drug: Rows, by_ppo: Rows) -> list[Section]:
    groups: dict[str, dict[str, int]] = {}
    for r in by_drug:
        cell = groups.setdefault(r["group"], {"tests": 0, "positives": 0, "initial_attended": 0})
        for key in cell:
            cell[key] += int(r.get(key) or 0)
    positives = {g: c["positives"] for g, c in groups.items()}
    assessed = sum(c["initial_attended"] for c in groups.values())
    cocaine_assessed = sum(groups.get(g, {}).get("initial_attended", 0) for g in COCAINE_GROUPS)
    drug = Section(
        "K4",
        "Tests, positives and assessments by drug",
        "2003-06 action plan: people arrested and tested positive for cocaine or crack; the percentage assessed by "
        "arrest referral workers with cocaine or crack problems (initial assessments attended whose test found "
        "cocaine, alone or with opiates).",
        [
            Indicator("Tests", sum(c["tests"] for c in groups.values())),
            Indicator(
                "Positive for cocaine or crack (alone or with opiates)",
                sum(positives.get(g, 0) for g in COCAINE_GROUPS),
            ),
            Indicator("Positive for opiates only", positives.get("opiates", 0)),
            Indicator("Positive for both", positives.get("cocaine and opiates", 0)),
            Indicator("Initial assessments attended", assessed),
            Indicator(
                "Assessed with cocaine or crack problems",
                _pct(_ratio(cocaine_assessed, assessed)),
                f"{cocaine_assessed} of {assessed}",
            ),
        ],
    )
    treated: dict[str, int] = {}
    for r in by_ppo:
        treated[r["group"]] = treated.get(r["group"], 0) + int(r.get("entered_treatment") or 0)
    treatment = Section(
        "K4T",
        "Entered treatment, by PPO status",
        "People referred who entered treatment, by whether they were on the PPO register when booked in.",
        [Indicator(f"Entered treatment: {group}", n) for group, n in sorted(treated.items())]
        or [Indicator("Entered treatment", 0)],
    )
    return [drug, treatment]


def compliance_section(rows: Rows, suites: set[str]) -> Section:
    mine = [r for r in rows if r["suite"] in suites]
    required = _sum(mine, "tests_required")
    taken = _sum(mine, "tests_taken")
    return Section(
        "T",
        "Testing compliance at the borough's custody suites",
        "Arrests by the day booked in; tests required when the sample was asked for or the person released; missed: "
        "required, but released or past the time limit untested (T10).",
        [
            Indicator("Arrests", _sum(mine, "arrests")),
            Indicator("Trigger-offence arrests", _sum(mine, "trigger_arrests")),
            Indicator("Tests required", required),
            Indicator("Tests taken", taken, _pct(_ratio(taken, required)) + " of those required"),
            Indicator("Tests refused", _sum(mine, "tests_refused")),
            Indicator("Tests missed", _sum(mine, "tests_missed")),
        ],
    )


def k5_section(rows: Rows, suites: set[str], by_drug: Rows, by_ppo: Rows, months: int) -> Section:
    mine = [r for r in rows if r["suite"] in suites]
    kit = sum(float(r["kit_cost_gbp"]) for r in mine)
    set_up = sum(float(r.get("set_up_cost_gbp") or 0) for r in mine)
    positives = _sum(by_drug, "positives")
    treated = _sum(by_ppo, "entered_treatment")
    return Section(
        "K5",
        "Tests performed and their cost",
        "Samples taken at the borough's custody suites and their kit cost; cost per positive test and per person "
        "entering treatment; the cost of a year at the period's rate; the set-up cost (a testing machine and the "
        "officers' training) of a suite in the period of its first test.",
        [
            Indicator("Tests performed", _sum(mine, "tests")),
            Indicator("Kit cost", _money(kit)),
            Indicator("Kit cost per positive test", _money(_ratio(kit, positives)), f"{positives} positive"),
            Indicator(
                "Kit cost per treatment entry", _money(_ratio(kit, treated)), f"{treated} entered treatment"
            ),
            Indicator("A year at this rate", _money(kit * 12 / months), "kits"),
            Indicator(
                "Set-up cost",
                _money(set_up),
                "testing machines and officers' training of suites first testing",
            ),
            Indicator(
                "Total cost per positive test", _money(_ratio(kit + set_up, positives)), "kits and set-up"
            ),
        ],
    )

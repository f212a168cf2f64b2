"""K4 lines by period and group: months add up to financial-year quarters and years; the drug groups of the
2003-06 plan; PPO status as custody recorded it."""

from __future__ import annotations

from dipflow.periods import Granularity
from dipflow_referral.domain.measures import Breakdown, K4Count, drug_group, k4_table, ppo_group


def test_drug_groups_follow_the_plans_criteria() -> None:
    assert drug_group(["cocaine"]) == "cocaine or crack"
    assert drug_group(["opiates"]) == "opiates"
    assert drug_group(["opiates", "cocaine"]) == "cocaine and opiates"
    assert drug_group(["fentanyl"]) == "opiates"  # a specified opioid since 2 August 2023 (T14)
    assert drug_group(["mdma"]) == "other drugs"
    assert drug_group([]) == "negative"
    assert [ppo_group(v) for v in (True, False, None)] == ["PPO", "not a PPO", "not recorded"]


def test_months_add_up_to_quarters_and_years_across_the_31_march_edge() -> None:
    counts = [
        K4Count("tests", "2008-03", "lambeth", "S", 2, True, ("cocaine",)),
        K4Count("tests", "2008-04", "lambeth", "S", 3, False, ("opiates",)),
        K4Count("positives", "2008-01", "lambeth", "S", 1, False, ("opiates", "cocaine")),
    ]
    by_quarter = {(x.period, x.group): x.counts for x in k4_table(counts, Granularity.quarter)}
    assert by_quarter == {
        ("2007/08 Q4", None): {"tests": 2, "positives": 1},
        ("2008/09 Q1", None): {"tests": 3},
    }
    by_year = k4_table(counts, Granularity.financial_year, Breakdown.ppo)
    assert [(x.period, x.group, x.counts) for x in by_year] == [
        ("2007/08", "PPO", {"tests": 2}),
        ("2007/08", "not a PPO", {"positives": 1}),
        ("2008/09", "not a PPO", {"tests": 3}),
    ]
    by_drug = {x.group for x in k4_table(counts, Granularity.month, Breakdown.drug)}
    assert by_drug == {"cocaine or crack", "opiates", "cocaine and opiates"}

"""The quarterly return's arithmetic over the services' rows: shares, costs per outcome and the year's cost."""

from __future__ import annotations

from datetime import date

from dipflow_web.return_page import last_whole_quarter
from dipflow_web.returns import compliance_section, k4_sections, k5_section

BY_DRUG = [
    {"group": "cocaine or crack", "tests": 4, "positives": 4, "initial_attended": 3},
    {"group": "cocaine and opiates", "tests": 1, "positives": 1, "initial_attended": 1},
    {"group": "opiates", "tests": 2, "positives": 2, "initial_attended": 4},
    {"group": "negative", "tests": 3, "positives": 0, "initial_attended": 0},
]
BY_PPO = [{"group": "PPO", "entered_treatment": 1}, {"group": "not a PPO", "entered_treatment": 3}]


def values(section: object) -> dict[str, object]:
    return {i.label: i.value for i in section.indicators}  # type: ignore[attr-defined]


def test_cocaine_positives_and_the_share_assessed_with_cocaine_or_crack_problems() -> None:
    drug, treatment = k4_sections(BY_DRUG, BY_PPO)
    found = values(drug)
    assert found["Tests"] == 10 and found["Positive for cocaine or crack (alone or with opiates)"] == 5
    assert found["Positive for opiates only"] == 2 and found["Positive for both"] == 1
    assert found["Assessed with cocaine or crack problems"] == "50.0%"  # 4 of 8 assessed
    assert values(treatment) == {"Entered treatment: PPO": 1, "Entered treatment: not a PPO": 3}


def test_kit_cost_per_positive_and_per_treatment_entry_and_a_year_at_the_quarters_rate() -> None:
    k5 = [
        {"suite": "MET-BRIXTON", "tests": 10, "kit_cost_gbp": "91.70", "set_up_cost_gbp": "1975"},
        {"suite": "MET-CAMDEN", "tests": 99, "kit_cost_gbp": "907.83"},  # another borough's suite
    ]
    found = values(k5_section(k5, {"MET-BRIXTON"}, BY_DRUG, BY_PPO, months=3))
    assert found["Tests performed"] == 10 and found["Kit cost"] == "£91.70"
    assert found["Kit cost per positive test"] == "£13.10"  # 91.70 / 7
    assert found["Kit cost per treatment entry"] == "£22.93"  # 91.70 / 4
    assert found["A year at this rate"] == "£366.80"
    assert found["Set-up cost"] == "£1,975.00" and found["Total cost per positive test"] == "£295.24"


def test_testing_compliance_adds_up_the_boroughs_suites_only() -> None:
    rows = [
        {
            "suite": "A",
            "arrests": 5,
            "trigger_arrests": 4,
            "tests_required": 4,
            "tests_taken": 3,
            "tests_refused": 1,
            "tests_missed": 0,
        },
        {
            "suite": "B",
            "arrests": 9,
            "trigger_arrests": 9,
            "tests_required": 9,
            "tests_taken": 0,
            "tests_refused": 0,
            "tests_missed": 9,
        },
    ]
    found = values(compliance_section(rows, {"A"}))
    assert (found["Arrests"], found["Tests taken"], found["Tests missed"]) == (5, 3, 0)


def test_the_default_period_is_the_last_quarter_that_has_ended() -> None:
    assert last_whole_quarter(date(2026, 11, 30)) == "2026/27 Q2"
    assert last_whole_quarter(date(2026, 4, 1)) == "2025/26 Q4"
    assert last_whole_quarter(date(2026, 3, 31)) == "2025/26 Q3"


def test_a_workbook_takes_a_title_with_characters_a_sheet_name_may_not_hold() -> None:
    import io

    import openpyxl

    from dipflow.exports import Table, as_xlsx

    book = openpyxl.load_workbook(
        io.BytesIO(as_xlsx(Table("Return * 2008/09 Q1", (("a", "A"),), [{"a": 1}])))
    )
    assert book.active is not None and book.active.title == "Return - 2008-09 Q1"

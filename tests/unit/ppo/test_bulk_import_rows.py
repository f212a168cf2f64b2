"""P1 bulk import: every row validated with line, field and reason; a re-import changes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from dipflow_ppo_register.domain.bulk import Action, ImportRow, parse_csv, parse_strand, plan_row
from dipflow_ppo_register.domain.register import Period, RegisterRuleBroken, Strand

GOOD = """person_id,borough,strand,start_date,end_date,reason
08/123456X,camden,Catch & Convict,07/01/2008,,January panel
L-CAM-0042,Camden,prevent_and_deter,2008-02-04,2008-06-30,deselected
"""


def test_good_rows_parse_with_partnership_spellings_and_uk_dates() -> None:
    rows, errors = parse_csv(GOOD)
    assert errors == []
    assert [(r.line, r.person_id, r.borough, r.strand, r.start_date, r.end_date) for r in rows] == [
        (2, "08/123456X", "camden", Strand.catch_and_convict, date(2008, 1, 7), None),
        (3, "L-CAM-0042", "camden", Strand.prevent_and_deter, date(2008, 2, 4), date(2008, 6, 30)),
    ]
    assert rows[0].reason == "January panel"


@pytest.mark.parametrize(
    ("text", "strand"),
    [
        ("Prevent & Deter", Strand.prevent_and_deter),
        ("catch and convict", Strand.catch_and_convict),
        ("R&R", Strand.rehabilitate_and_resettle),
        ("rehabilitate_and_resettle", Strand.rehabilitate_and_resettle),
        ("Deter", None),
        ("", None),
    ],
)
def test_strand_spellings(text: str, strand: Strand | None) -> None:
    assert parse_strand(text) == strand


def test_every_bad_row_is_reported_with_line_field_and_reason() -> None:
    text = (
        "person_id,borough,strand,start_date,end_date\n"
        "08/123456X,camden,Catch & Convict,2008-01-07,\n"
        "not-a-pnc,camden,Catch & Convict,2008-01-07,\n"
        "08/123457Y,camden,Sometimes,31/02/2008,\n"
        "\n"
        "08/123458Z,camden,R&R,2008-03-01,2008-02-01\n"
    )
    rows, errors = parse_csv(text)
    assert [r.line for r in rows] == [2]
    assert [(e.line, e.field) for e in errors] == [
        (3, "person_id"),
        (4, "strand"),
        (4, "start_date"),
        (6, "end_date"),
    ]
    assert all(e.reason for e in errors)


def test_missing_columns_are_reported_on_the_header_line() -> None:
    rows, errors = parse_csv("person_id,borough\n08/123456X,camden\n")
    assert rows == []
    assert {(e.line, e.field, e.reason) for e in errors} == {
        (1, "strand", "missing column"),
        (1, "start_date", "missing column"),
    }


def row(
    start: date, end: date | None = None, borough: str = "camden", strand: Strand = Strand.catch_and_convict
) -> ImportRow:
    return ImportRow(2, "08/123456X", borough, strand, start, end, "panel")


def period(start: date, end: date | None = None) -> Period:
    return Period("08/123456X", "camden", Strand.catch_and_convict, start, end, "panel", "coordinator")


def test_plan_a_row_already_on_the_register_changes_nothing() -> None:
    assert plan_row([period(date(2008, 1, 7))], row(date(2008, 1, 7))) is Action.unchanged
    ended = [period(date(2008, 1, 7), date(2008, 6, 30))]
    assert plan_row(ended, row(date(2008, 1, 7), date(2008, 6, 30))) is Action.unchanged


def test_plan_new_rows_add_and_end_and_an_open_period_can_be_ended_by_a_later_file() -> None:
    assert plan_row([], row(date(2008, 1, 7))) is Action.add
    assert plan_row([], row(date(2008, 1, 7), date(2008, 3, 1))) is Action.add_and_end
    assert plan_row([period(date(2008, 1, 7))], row(date(2008, 1, 7), date(2008, 9, 1))) is Action.end


def test_plan_rows_that_contradict_the_register_break_p1_naming_the_field() -> None:
    with pytest.raises(RegisterRuleBroken) as ended_otherwise:
        plan_row([period(date(2008, 1, 7), date(2008, 6, 30))], row(date(2008, 1, 7), date(2008, 7, 31)))
    assert ended_otherwise.value.field == "end_date" and ended_otherwise.value.rule_id == "P1"
    with pytest.raises(RegisterRuleBroken) as overlapping:
        plan_row([period(date(2008, 1, 7), date(2008, 6, 30))], row(date(2008, 5, 1), borough="brent"))
    assert overlapping.value.field == "start_date"

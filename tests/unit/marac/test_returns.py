"""The national dataset return's rules (domain.md): quarters, and one meeting's row."""

from __future__ import annotations

from datetime import date

import pytest

from marac.domain.returns import COLUMNS, DiscussedCase, quarter_dates, return_row

HELD = date(2026, 9, 15)


@pytest.mark.parametrize(
    ("quarter", "first", "last"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31)),
    ],
)
def test_a_quarter_is_three_calendar_months(quarter: str, first: date, last: date) -> None:
    assert quarter_dates(quarter) == (first, last)


@pytest.mark.parametrize("quarter", ["2026-Q5", "2026-Q0", "2026Q3", "26-Q1", "0000-Q1", ""])
def test_anything_else_is_not_a_quarter(quarter: str) -> None:
    with pytest.raises(ValueError, match="quarter"):
        quarter_dates(quarter)


def row(*cases: DiscussedCase) -> dict[str, object]:
    return dict(zip(COLUMNS, return_row("southampton", HELD, cases), strict=True))


def test_a_meeting_with_nothing_discussed_is_a_row_of_zeros() -> None:
    found = row()
    assert (found["area"], found["meeting_date"]) == ("southampton", "2026-09-15")
    assert {v for k, v in found.items() if k not in ("area", "meeting_date")} == {0}


def test_ages_are_counted_on_the_meeting_date() -> None:
    sixteen = DiscussedCase("police", False, 0, date(2010, 9, 15))  # 16 that very day
    fifteen = DiscussedCase("police", False, 0, date(2010, 9, 16))
    eighteen = DiscussedCase("police", False, 0, date(2008, 9, 15))
    young_perpetrator = DiscussedCase(
        "health",
        False,
        0,
        None,
        (None, date(2008, 9, 16)),  # 17 until tomorrow
    )
    found = row(sixteen, fifteen, eighteen, young_perpetrator)
    assert found["victims_aged_16_17"] == 1
    assert found["perpetrators_under_18"] == 1


def test_referrals_are_counted_by_the_agency_that_referred_first() -> None:
    found = row(
        DiscussedCase("police", True, 2, None),
        DiscussedCase("health", False, 1, None),
        DiscussedCase("health", True, 0, None),
        DiscussedCase("adult-social-care", False, 0, None),
    )
    assert (found["cases_discussed"], found["repeat_cases"]) == (4, 2)
    assert found["children_in_households"] == 3
    assert (found["referrals_police"], found["referrals_health"]) == (1, 2)
    assert found["referrals_adult_social_care"] == 1
    assert found["referrals_housing"] == 0


def test_equality_is_counted_and_unknown_when_not_given() -> None:
    found = row(
        DiscussedCase("health", False, 0, None, equality={"sex": "female", "ethnicity": "asian"}),
        DiscussedCase("health", False, 0, None, equality={"ethnicity": "white", "lgbt": True}),
        DiscussedCase("police", False, 0, None, equality={"disability": False, "lgbt": False}),
        DiscussedCase("police", False, 0, None),
    )
    assert (found["victims_female"], found["victims_sex_not_known"]) == (1, 3)
    assert found["victims_ethnic_minority"] == 1
    assert (found["victims_white"], found["victims_ethnicity_not_known"]) == (1, 2)
    assert (found["victims_lgbt"], found["victims_lgbt_not_known"]) == (1, 2)
    assert (found["victims_disabled"], found["victims_disability_not_known"]) == (0, 3)

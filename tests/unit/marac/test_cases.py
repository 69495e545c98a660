"""A case's priority, repeats, and how incidents are gathered into one case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marac.domain.cases import Party, is_repeat, merge, priority, summarise
from tests.unit.marac.builders import NOW, facts


@pytest.mark.parametrize(
    ("criteria", "dash", "repeat", "incidents", "expected"),
    [
        (["visible_high_risk"], 14, False, 1, 44),
        (["visible_high_risk"], 24, False, 1, 54),
        (["professional_judgement"], None, False, 1, 20),
        (["potential_escalation"], 5, False, 1, 20),
        (["repeat_marac"], 3, False, 1, 18),
        (["repeat_marac"], 3, True, 1, 18),
        (["visible_high_risk"], 17, True, 1, 62),
        (["visible_high_risk", "professional_judgement"], 16, False, 2, 71),
        (["visible_high_risk"], 14, False, 5, 54),
        (["visible_high_risk", "professional_judgement", "potential_escalation"], 24, True, 3, 100),
        ([], None, False, 1, 0),
        (["something_new"], 0, False, 1, 0),
    ],
)
def test_priority_weighs_criteria_dash_and_repeats(criteria, dash, repeat, incidents, expected):
    assert priority(criteria, dash, repeat, incidents) == expected


@pytest.mark.parametrize(
    ("listed_on", "decided_on", "expected"),
    [
        ([], date(2026, 11, 21), False),
        ([date(2026, 6, 1)], date(2026, 11, 21), True),
        ([date(2025, 11, 21)], date(2026, 11, 21), True),
        ([date(2025, 11, 20)], date(2026, 11, 21), False),
        ([date(2026, 11, 21)], date(2026, 11, 21), True),
        ([date(2026, 12, 1)], date(2026, 11, 21), False),
        ([date(2024, 1, 1), date(2026, 1, 5)], date(2026, 11, 21), True),
    ],
)
def test_repeat_means_listed_in_the_year_before(listed_on, decided_on, expected):
    assert is_repeat(listed_on, decided_on) is expected


def test_a_later_decision_on_the_same_incident_replaces_the_earlier():
    first = facts("i1", dash_score=None, criteria=("professional_judgement",))
    later = facts("i1", dash_score=16, criteria=("visible_high_risk",))
    merged = merge([first], later)
    assert merged == [later]


def test_incidents_are_kept_in_the_order_they_were_reported():
    late = facts("i2", reported_at=NOW)
    early = facts("i1", reported_at=NOW - timedelta(days=2))
    assert [f.incident_id for f in merge([late], early)] == ["i1", "i2"]


def test_a_case_summary_takes_the_highest_risk_and_every_criterion():
    gathered = [
        facts(
            "i1",
            reported_at=NOW - timedelta(days=1),
            criteria=("repeat_marac",),
            risk_level="medium",
            dash_score=11,
            children_count=2,
        ),
        facts(
            "i2",
            criteria=("visible_high_risk",),
            dash_score=15,
            children_count=0,
            victim=Party("Alexandra", "Testperson", date(1990, 4, 1)),
            suspect=None,
        ),
    ]
    summary = summarise(gathered, repeat=True)
    assert summary.incident_ids == ("i1", "i2")
    assert summary.criteria == ("visible_high_risk", "repeat_marac")
    assert summary.risk_level == "high"
    assert summary.dash_score == 15
    assert summary.children_count == 2
    assert summary.victim.given_name == "Alexandra"
    assert summary.suspect is not None
    assert summary.suspect.given_name == "Sam"
    assert summary.priority == 30 + 15 + 15 + 5


def test_a_case_without_any_dash_has_no_score():
    summary = summarise([facts(dash_score=None, criteria=("professional_judgement",))], False)
    assert summary.dash_score is None
    assert summary.priority == 20


def test_a_case_needs_an_incident():
    with pytest.raises(ValueError, match="at least one"):
        summarise([], repeat=False)

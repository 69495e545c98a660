"""MARAC eligibility (`domain/marac.py`): SafeLives' four criteria."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.triage.builders import (
    REPORTED_AT,
    VICTIM,
    dash,
    decided,
    past,
    referrals,
    regrade,
)
from triage.domain.windows import MaracListing, OnRecord


def test_escalation_makes_the_victim_marac_eligible_and_refers_to_an_idva() -> None:
    on_record = OnRecord((past(1, 1), past(2, 2)))
    decision = decided(on_record, dash_=dash(1))
    assert ("idva", "marac", "victim") in referrals(decision)
    assert ("victim-support", "standard_risk", "victim") in referrals(decision)


@pytest.mark.parametrize(
    ("yes", "judgement", "regraded", "criteria"),
    [
        (14, None, None, ("visible_high_risk",)),
        (13, None, None, ()),
        (13, "high", None, ("professional_judgement",)),
        (15, "high", None, ("visible_high_risk",)),  # high by score, not by judgement
        (2, None, "high", ("professional_judgement",)),
        (16, None, "standard", ("visible_high_risk",)),  # the score still shows
        (2, None, "medium", ()),
    ],
)
def test_marac_criteria_from_score_judgement_and_regrade(
    yes: int, judgement: str | None, regraded: str | None, criteria: tuple[str, ...]
) -> None:
    grade = regrade(regraded) if regraded else None
    decision = decided(dash_=dash(yes, judgement), regrade=grade)
    assert decision.marac.criteria == criteria
    assert decision.marac.eligible is bool(criteria)


def test_a_listing_at_marac_within_a_year_makes_a_repeat_marac() -> None:
    on_record = OnRecord(listings=(MaracListing(VICTIM, (REPORTED_AT - timedelta(days=200), 0)),))
    decision = decided(on_record, dash_=dash(1))
    assert decision.marac.criteria == ("repeat_marac",)
    assert ("idva", "marac", "victim") in referrals(decision)

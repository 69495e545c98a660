"""The demo's MARAC referral forms are forms marac accepts: valid field by field and by
the referral rules, health's about a victim the day's police incidents already brought."""

from __future__ import annotations

from datetime import UTC, date, datetime

from marac.domain.referrals import refusals
from marac.schemas import MaracReferralRequest
from mash_tools.demo import synthetic_day
from mash_tools.demo_meeting import AREA, quarter_of, stories


def test_the_demos_referral_forms_are_valid_and_health_refers_a_known_victim() -> None:
    plans = synthetic_day(7, 30, datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    health, housing = stories(plans, "20261120120000", 120000)
    for body in (health, housing):
        form = MaracReferralRequest.model_validate(body)
        answers = {str(q): yes for q, yes in form.dash.answers.items()} if form.dash else None
        assert (
            refusals(
                form.criteria,
                answers,
                form.professional_judgement_reason,
                form.consent,
                form.consent_reason,
            )
            == []
        )
        assert form.area == AREA
    known = {p.body["victim"]["date_of_birth"] for p in plans if p.story == "repeat"}
    assert health["victim"]["date_of_birth"] in known
    assert (health["referring_agency"], housing["referring_agency"]) == ("health", "housing")


def test_a_quarter_is_named_as_the_return_wants_it() -> None:
    assert quarter_of(date(2026, 12, 5)) == "2026-Q4"
    assert quarter_of(date(2026, 1, 1)) == "2026-Q1"

"""The referral form's rules (domain.md "Any agency refers") and SafeLives' repeat rule
over referrals and listings, whoever reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marac.domain.cases import summarise
from marac.domain.listing import past_maracs, place
from marac.domain.referrals import dash_score, refusals
from tests.unit.marac.builders import NOW, TODAY, case, facts, referral


def yes(count: int) -> dict[str, bool]:
    return {f"q{i}": i <= count for i in range(1, 25)}


def locs(*args: object, **kwargs: object) -> list[tuple[str, ...]]:
    return [r.loc for r in refusals(*args, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(("count", "refused"), [(13, True), (14, False), (24, False), (0, True)])
def test_visible_high_risk_needs_fourteen_yes_answers(count: int, refused: bool) -> None:
    found = locs(["visible_high_risk"], yes(count), None, "given", None)
    assert found == ([("body", "dash", "answers")] if refused else [])


def test_visible_high_risk_needs_the_dash() -> None:
    assert locs(["visible_high_risk"], None, None, "given", None) == [("body", "dash")]


def test_other_criteria_need_no_dash() -> None:
    assert locs(["potential_escalation"], None, None, "given", None) == []


@pytest.mark.parametrize(("reason", "refused"), [(None, True), ("  ", True), ("Controls", False)])
def test_professional_judgement_needs_its_reason(reason: str | None, refused: bool) -> None:
    found = locs(["professional_judgement"], None, reason, "given", None)
    assert found == ([("body", "professional_judgement_reason")] if refused else [])


@pytest.mark.parametrize(
    ("consent", "reason", "refused"),
    [
        ("given", None, False),
        ("not_given", None, True),
        ("not_sought", "", True),
        ("not_given", "High risk overrides consent.", False),
    ],
)
def test_consent_not_given_needs_a_reason(consent: str, reason: str | None, refused: bool) -> None:
    found = locs(["potential_escalation"], None, None, consent, reason)
    assert found == ([("body", "consent_reason")] if refused else [])


def test_every_broken_rule_is_named_at_once() -> None:
    found = locs(["visible_high_risk", "professional_judgement"], yes(3), None, "not_given", None)
    assert found == [
        ("body", "dash", "answers"),
        ("body", "professional_judgement_reason"),
        ("body", "consent_reason"),
    ]


def test_the_dash_score_counts_yes_answers_only() -> None:
    assert dash_score({"q1": True, "q2": False, "q3": True}) == 2


def test_a_case_of_a_referral_alone_is_summarised_from_it() -> None:
    summary = summarise([], False, [referral(dash_score=16, criteria=("visible_high_risk",))])
    assert summary.incident_ids == ()
    assert summary.criteria == ("visible_high_risk",)
    assert (summary.dash_score, summary.risk_level, summary.children_count) == (16, "high", 1)
    assert summary.priority == 30 + 16


def test_a_referral_adds_its_criteria_and_counts_as_a_further_source() -> None:
    incident = facts(dash_score=12, risk_level="medium", criteria=("potential_escalation",))
    summary = summarise([incident], False, [referral(received_at=NOW + timedelta(hours=1))])
    assert summary.incident_ids == ("i1",)
    assert summary.criteria == ("professional_judgement", "potential_escalation")
    assert summary.risk_level == "high"
    assert summary.priority == 20 + 15 + 12 + 5


@pytest.mark.parametrize(("days", "repeat"), [(335, True), (365, True), (366, False), (395, False)])
def test_a_referral_within_twelve_months_of_a_listing_is_a_repeat(days: int, repeat: bool) -> None:
    held = TODAY - timedelta(days=days)
    past = case(meeting_date=held, status="closed")
    assert place([past], [], "southampton", TODAY, TODAY).repeat is repeat


@pytest.mark.parametrize(("days", "repeat"), [(335, True), (395, False)])
def test_an_incident_within_twelve_months_of_a_partners_referral_is_a_repeat(
    days: int, repeat: bool
) -> None:
    """Whoever reports: the police after a health visitor's referral."""
    when = NOW - timedelta(days=days)
    # the referral waited, then went on a meeting 400 days after it: only the referral counts
    later = (when + timedelta(days=400)).date()
    past = case(meeting_date=later, incidents=(), referrals=(referral(received_at=when),))
    assert sorted(past_maracs([past])) == [when.date(), later]
    assert place([past], [], "southampton", TODAY, TODAY).join is past
    closed = case(meeting_date=when.date() - timedelta(days=60), status="closed", incidents=())
    referred = case(
        "c2",
        meeting_date=when.date() - timedelta(days=60),
        status="closed",
        incidents=(),
        referrals=(referral(received_at=when),),
    )
    assert place([closed], [], "southampton", TODAY, TODAY).repeat is False
    assert place([referred], [], "southampton", TODAY, TODAY).repeat is repeat


def test_a_listing_still_to_come_is_not_a_past_marac() -> None:
    coming = case(meeting_date=TODAY + timedelta(days=7))
    assert place([coming], [], "southampton", TODAY, TODAY).repeat is False

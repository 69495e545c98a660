"""The referrals a decision calls for: once per agency and subject, timed, minimised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.domain.referrals import ReferralTiming, not_yet_made, plan
from tests.unit.notify import builders

POLICY = ReferralTiming(timezone=ZoneInfo("Europe/London"))
NOW = datetime(2026, 11, 18, 21, 30, tzinfo=UTC)


def test_one_referral_per_agency_and_subject() -> None:
    made = plan(builders.decision(), POLICY, NOW)
    assert [(r.agency, r.subject, r.reason) for r in made.referrals] == [
        (r["agency"], r["subject"], r["reason"]) for r in builders.ALL_REFERRALS
    ]
    assert made.rejected == []


def test_a_referral_listed_twice_is_made_once() -> None:
    twice = [builders.ALL_REFERRALS[0], builders.ALL_REFERRALS[0]]
    assert len(plan(builders.decision(referrals=twice), POLICY, NOW).referrals) == 1


@pytest.mark.parametrize(
    "referral",
    [
        {"agency": "school", "reason": "operation_encompass", "subject": "victim"},
        {"agency": "school", "reason": "operation_encompass", "subject": "child:2"},
        {"agency": "school", "reason": "operation_encompass", "subject": "child:-1"},
        {"agency": "school", "reason": "operation_encompass", "subject": "child:01"},
        {"agency": "idva", "reason": "high_risk", "subject": "child:0"},
        {"agency": "idva", "reason": "x" * 65, "subject": "victim"},
        {"agency": "idva", "reason": "Alex Smith", "subject": "victim"},
    ],
)
def test_a_subject_or_reason_that_fits_nothing_is_rejected(referral: dict[str, str]) -> None:
    made = plan(builders.decision(referrals=[referral]), POLICY, NOW)
    assert made.referrals == []
    assert [r.subject for r in made.rejected] == [referral["subject"]]


def test_school_notices_wait_for_the_school_day_and_others_go_now() -> None:
    made = plan(builders.decision(), POLICY, NOW)  # incident on a Wednesday, 21:15
    for referral in made.referrals:
        if referral.agency == "school":
            assert referral.deliver_after == datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
        else:
            assert referral.deliver_after == NOW


def test_a_school_notice_decided_after_its_release_is_due_at_once() -> None:
    late = NOW + timedelta(days=2)
    made = plan(builders.decision(), POLICY, late)
    school = next(r for r in made.referrals if r.agency == "school")
    assert school.deliver_after < late  # already passed: the worker sends it at once


@pytest.mark.parametrize(
    ("risk_level", "agency", "review"),
    [
        ("high", "safeguarding-team", True),
        ("medium", "safeguarding-team", False),
        ("high", "idva", False),
        ("high", "school", False),
    ],
)
def test_review_due_24_hours_after_a_high_risk_decision(
    risk_level: str, agency: str, review: bool
) -> None:
    decided = datetime(2026, 11, 18, 21, 20, tzinfo=UTC)
    decision = builders.decision(risk_level=risk_level, decided_at=decided)
    referral = next(r for r in plan(decision, POLICY, NOW).referrals if r.agency == agency)
    assert referral.review_due_at == (decided + timedelta(hours=24) if review else None)


def test_only_referrals_not_yet_made_are_new() -> None:
    planned = plan(builders.decision(), POLICY, NOW).referrals
    existing = {("idva", "victim"), ("school", "child:0")}
    new = not_yet_made(planned, existing)
    assert {(r.agency, r.subject) for r in new} == {
        (r["agency"], r["subject"]) for r in builders.ALL_REFERRALS
    } - existing

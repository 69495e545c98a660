"""The referral list (`domain/referrals.py`): domain.md's routing, and a list that only grows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.triage.builders import (
    KID,
    SAMPLED,
    dash,
    decided,
    referrals,
    regrade,
)
from triage.domain.policy import TriagePolicy
from triage.domain.referrals import Referral


@pytest.mark.parametrize(
    ("yes", "judgement", "expected"),
    [
        (9, None, {("victim-support", "standard_risk", "victim")}),
        (10, None, {("safeguarding-team", "medium_risk", "victim")}),
        (13, None, {("safeguarding-team", "medium_risk", "victim")}),
        (
            14,
            None,
            {("idva", "high_risk", "victim"), ("safeguarding-team", "high_risk", "victim")},
        ),
        (
            2,
            "high",
            {("idva", "high_risk", "victim"), ("safeguarding-team", "high_risk", "victim")},
        ),
    ],
)
def test_referrals_follow_the_risk_level(
    yes: int, judgement: str | None, expected: set[Any]
) -> None:
    assert referrals(decided(dash_=dash(yes, judgement))) == expected


def test_dip_sampled_standard_risk_also_goes_to_the_safeguarding_team() -> None:
    decision = decided(dash_=dash(3), incident_id=SAMPLED)
    assert "dip_sample" in decision.flags
    assert referrals(decision) == {
        ("victim-support", "standard_risk", "victim"),
        ("safeguarding-team", "dip_sample", "victim"),
    }


def test_children_go_to_social_care_and_each_school_child_to_its_school() -> None:
    children = [
        {**KID, "school_urn": "123456", "present_at_incident": True},
        {**KID, "date_of_birth": None},
        {**KID, "school_urn": "654321"},
    ]
    decision = decided(dash_=dash(0, q9=True), children=children)
    assert decision.flags == ["children_in_household", "child_present", "pregnancy"]
    assert referrals(decision) == {
        ("childrens-social-care", "children_in_household", "victim"),
        ("school", "operation_encompass", "child:0"),
        ("school", "operation_encompass", "child:2"),
        ("victim-support", "standard_risk", "victim"),
    }


def test_a_regrade_down_after_a_referral_keeps_the_referrals() -> None:
    high = decided(dash_=dash(15))
    lowered = decided(dash_=dash(15), regrade=regrade("standard"), referrals=tuple(high.referrals))
    assert lowered.risk_level == "standard"
    assert lowered.risk_basis == "regrade"
    assert [r.key for r in lowered.referrals[: len(high.referrals)]] == [
        r.key for r in high.referrals
    ]
    assert referrals(lowered) == referrals(high) | {("victim-support", "standard_risk", "victim")}


def test_a_later_dash_adds_referrals_and_withdraws_none() -> None:
    first = decided()
    later = decided(dash_=dash(11), referrals=tuple(first.referrals))
    assert referrals(later) == {
        ("victim-support", "standard_risk", "victim"),
        ("safeguarding-team", "medium_risk", "victim"),
    }


def test_a_referral_already_made_is_never_made_twice_with_a_new_reason() -> None:
    earlier = (Referral("idva", "marac"),)
    decision = decided(dash_=dash(20), referrals=earlier)
    assert [r for r in decision.referrals if r.agency == "idva"] == [Referral("idva", "marac")]


def test_the_decision_carries_the_policy_version_and_its_routing() -> None:
    policy = TriagePolicy(version="area-7", routes=())
    decision = decided(policy=policy, dash_=dash(20))
    assert decision.policy_version == "area-7"
    assert decision.referrals == []

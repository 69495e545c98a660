"""Whole decisions: flags, MARAC criteria and the referral list by domain.md's routing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.unit.triage.builders import (
    REPORTED_AT,
    VICTIM,
    case,
    dash,
    incident_id_in_dip_sample,
    record,
    regrade,
)
from triage.domain.decision import Decision, decide
from triage.domain.identity import Identity
from triage.domain.policy import DEFAULT_POLICY, TriagePolicy
from triage.domain.referrals import Referral
from triage.domain.windows import MaracListing, OnRecord

NOT_SAMPLED = incident_id_in_dip_sample(False)
SAMPLED = incident_id_in_dip_sample(True)
KID = {"given_name": "Kim", "family_name": "Example", "date_of_birth": "2016-03-03"}


def referrals(decision: Decision) -> set[tuple[str, str, str]]:
    return {(r.agency, r.reason, r.subject) for r in decision.referrals}


def decided(
    history: OnRecord = OnRecord(), policy: TriagePolicy = DEFAULT_POLICY, **kw: Any
) -> Decision:
    kw.setdefault("incident_id", NOT_SAMPLED)
    return decide(case(**kw), history, policy)


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


def test_an_incident_without_dash_is_standard_not_assessed_and_goes_to_victim_support() -> None:
    decision = decided()
    assert (decision.risk_level, decision.risk_basis, decision.dash_score) == (
        "standard",
        "not_assessed",
        None,
    )
    assert decision.flags == ["not_assessed"]
    assert referrals(decision) == {("victim-support", "standard_risk", "victim")}


def test_dip_sampled_standard_risk_also_goes_to_the_safeguarding_team() -> None:
    decision = decided(dash_=dash(3), incident_id=SAMPLED)
    assert "dip_sample" in decision.flags
    assert referrals(decision) == {
        ("victim-support", "standard_risk", "victim"),
        ("safeguarding-team", "dip_sample", "victim"),
    }


def test_only_standard_risk_is_dip_sampled() -> None:
    assert "dip_sample" not in decided(dash_=dash(12), incident_id=SAMPLED).flags


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


def test_an_adult_child_alone_is_no_child_in_the_household() -> None:
    decision = decided(dash_=dash(1), children=[{**KID, "date_of_birth": "2008-11-21"}])
    assert "children_in_household" not in decision.flags


def past(days: int, seq: int, victim: Identity = VICTIM, **kw: Any) -> Any:
    return record(at=REPORTED_AT - timedelta(days=days), seq=seq, victim=victim, **kw)


@pytest.mark.parametrize(
    ("earlier", "flags", "eligible"),
    [
        ([], [], False),
        ([10], ["repeat_victim"], False),
        ([10, 400], ["repeat_victim"], False),
        ([10, 365], ["repeat_victim", "potential_escalation"], True),
        ([10, 366], ["repeat_victim"], False),
    ],
)
def test_repeats_and_escalation_within_365_days(
    earlier: list[int], flags: list[str], eligible: bool
) -> None:
    history = OnRecord(tuple(past(days, n) for n, days in enumerate(earlier, 1)))
    decision = decided(history, dash_=dash(1))
    assert decision.flags == flags
    assert decision.prior_incidents_12m == len([d for d in earlier if d <= 365])
    assert decision.marac.eligible is eligible
    assert decision.marac.criteria == (("potential_escalation",) if eligible else ())


def test_escalation_makes_the_victim_marac_eligible_and_refers_to_an_idva() -> None:
    history = OnRecord((past(1, 1), past(2, 2)))
    decision = decided(history, dash_=dash(1))
    assert ("idva", "marac", "victim") in referrals(decision)
    assert ("victim-support", "standard_risk", "victim") in referrals(decision)


def test_a_suspect_against_another_victim_is_a_serial_perpetrator() -> None:
    history = OnRecord((past(700, 1, victim=Identity("someone-else")),))
    assert "serial_perpetrator" in decided(history, dash_=dash(1)).flags


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
    history = OnRecord(listings=(MaracListing(VICTIM, (REPORTED_AT - timedelta(days=200), 0)),))
    decision = decided(history, dash_=dash(1))
    assert decision.marac.criteria == ("repeat_marac",)
    assert ("idva", "marac", "victim") in referrals(decision)


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

"""The policy is versioned configuration: defaults from domain.md, overridable by env."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from triage.config import Settings
from triage.domain.policy import DEFAULT_POLICY, TriagePolicy


def test_defaults_are_domain_md() -> None:
    policy = DEFAULT_POLICY
    assert (policy.high_score, policy.medium_score, policy.child_age) == (14, 10, 18)
    assert (policy.repeat_window_days, policy.escalation_incidents) == (365, 3)
    assert (policy.serial_window_years, policy.serial_victims) == (3, 2)
    assert (policy.marac_window_days, policy.dip_sample_share) == (365, 0.10)
    assert [(r.agency, r.reason, r.when) for r in policy.routes] == [
        ("childrens-social-care", "children_in_household", "flag:children_in_household"),
        ("school", "operation_encompass", "child_with_school"),
        ("idva", "high_risk", "level:high"),
        ("idva", "marac", "marac_eligible"),
        ("safeguarding-team", "high_risk", "level:high"),
        ("safeguarding-team", "medium_risk", "level:medium"),
        ("safeguarding-team", "dip_sample", "flag:dip_sample"),
        ("victim-support", "standard_risk", "level:standard"),
    ]


def test_policy_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_POLICY__VERSION", "hampshire-2027-1")
    monkeypatch.setenv("TRIAGE_POLICY__DIP_SAMPLE_SHARE", "0.25")
    policy = Settings().policy
    assert (policy.version, policy.dip_sample_share, policy.high_score) == (
        "hampshire-2027-1",
        0.25,
        14,
    )


def test_a_whole_policy_can_be_given_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = [{"agency": "idva", "reason": "high_risk", "when": "level:high"}]
    monkeypatch.setenv("TRIAGE_POLICY", json.dumps({"version": "only-idva", "routes": routes}))
    policy = Settings().policy
    assert policy.version == "only-idva"
    assert [r.agency for r in policy.routes] == ["idva"]


@pytest.mark.parametrize(
    "bad",
    [
        {"dip_sample_share": 1.5},
        {"high_score": 0},
        {"routes": [{"agency": "police", "reason": "x", "when": "level:high"}]},
        {"routes": [{"agency": "idva", "reason": "x", "when": "always"}]},
        {"surprise": 1},
    ],
)
def test_a_bad_policy_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TriagePolicy.model_validate(bad)

"""The policy is configuration: versioned, owned by a partner agency, set by environment."""

from __future__ import annotations

import json

import pytest

from perpetrators.config import Settings
from perpetrators.domain.policy import Policy


def test_the_default_policy_is_domain_mds() -> None:
    policy = Settings().policy
    assert policy == Policy()
    assert [(b.days, b.points) for b in policy.recency_bands] == [
        (30, 5),
        (90, 4),
        (180, 3),
        (365, 2),
    ]
    assert (policy.window_months, policy.frequency_cap, policy.gravity_cap) == (24, 5, 15)
    assert (policy.victims_cap, policy.priority_score, policy.serial_victims) == (3, 60, 2)
    assert policy.level_points == {"standard": 1, "medium": 2, "high": 3}
    assert set(policy.grave_abuse_types) == {"sexual", "honour_based", "forced_marriage", "fgm"}


def test_the_owner_and_version_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERPETRATORS_POLICY__OWNER", "Test Domestic Abuse Partnership")
    monkeypatch.setenv("PERPETRATORS_POLICY__VERSION", "tdap-3")
    monkeypatch.setenv("PERPETRATORS_POLICY__PRIORITY_SCORE", "50")
    policy = Settings().policy
    assert (policy.owner, policy.version, policy.priority_score) == (
        "Test Domestic Abuse Partnership",
        "tdap-3",
        50,
    )


def test_a_whole_policy_as_json_and_unknown_fields_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERPETRATORS_POLICY", json.dumps({"version": "v9", "owner": "Agency"}))
    assert Settings().policy.version == "v9"
    monkeypatch.setenv("PERPETRATORS_POLICY", json.dumps({"version": "v9", "ethnicity": 1}))
    with pytest.raises(ValueError, match="ethnicity"):
        Settings()

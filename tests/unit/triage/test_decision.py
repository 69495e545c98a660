"""Whole decisions (`domain/decision.py`): flags and the windows they count in."""

from __future__ import annotations

import pytest

from shared.identity import Identity
from tests.unit.triage.builders import (
    KID,
    SAMPLED,
    dash,
    decided,
    past,
    referrals,
)
from triage.domain.windows import OnRecord


def test_an_incident_without_dash_is_standard_not_assessed_and_goes_to_victim_support() -> None:
    decision = decided()
    assert (decision.risk_level, decision.risk_basis, decision.dash_score) == (
        "standard",
        "not_assessed",
        None,
    )
    assert decision.flags == ["not_assessed"]
    assert referrals(decision) == {("victim-support", "standard_risk", "victim")}


def test_only_standard_risk_is_dip_sampled() -> None:
    assert "dip_sample" not in decided(dash_=dash(12), incident_id=SAMPLED).flags


def test_an_adult_child_alone_is_no_child_in_the_household() -> None:
    decision = decided(dash_=dash(1), children=[{**KID, "date_of_birth": "2008-11-21"}])
    assert "children_in_household" not in decision.flags


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
    on_record = OnRecord(tuple(past(days, n) for n, days in enumerate(earlier, 1)))
    decision = decided(on_record, dash_=dash(1))
    assert decision.flags == flags
    assert decision.prior_incidents_12m == len([d for d in earlier if d <= 365])
    assert decision.marac.eligible is eligible
    assert decision.marac.criteria == (("potential_escalation",) if eligible else ())


def test_a_suspect_against_another_victim_is_a_serial_perpetrator() -> None:
    on_record = OnRecord((past(700, 1, victim=Identity("someone-else")),))
    assert "serial_perpetrator" in decided(on_record, dash_=dash(1)).flags

"""What the console keeps of an incident's decisions, decision after decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.domain.facts import Decision, fold

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def decided(
    minutes: int,
    level: str = "standard",
    basis: str = "dash_score",
    dash: int | None = 3,
    flags: frozenset[str] = frozenset(),
    referrals: frozenset[str] = frozenset({"victim-support/victim"}),
) -> Decision:
    return Decision(
        incident_id="i1",
        area="southampton",
        reported_at=T0,
        decided_at=T0 + timedelta(minutes=minutes),
        risk_level=level,
        risk_basis=basis,
        dash_score=dash,
        flags=flags,
        children_count=0,
        referrals=referrals,
    )


def test_a_dash_at_first_report_is_not_a_dash_completed_later() -> None:
    facts = fold(None, decided(0))
    assert facts.dash_at_first_report
    assert not facts.dash_later
    assert facts.assessed


def test_a_dash_after_a_first_decision_without_one_is_completed_later() -> None:
    first = fold(None, decided(0, basis="not_assessed", dash=None))
    assert not first.assessed
    later = fold(first, decided(30, level="medium", dash=11))
    assert later.dash_later
    assert later.assessed
    assert not later.dash_at_first_report
    assert later.risk_level == "medium"


def test_a_regrade_records_its_direction() -> None:
    medium = fold(None, decided(0, level="medium", dash=10))
    up = fold(medium, decided(10, level="high", basis="regrade", dash=10))
    assert up.regrade == "up"
    down = fold(up, decided(20, level="standard", basis="regrade", dash=10))
    assert down.regrade == "down"
    assert down.risk_level == "standard"


def test_an_older_decision_arriving_late_adds_flags_but_not_its_level() -> None:
    latest = fold(None, decided(60, level="high", dash=15))
    late = fold(
        latest,
        decided(
            0,
            level="standard",
            flags=frozenset({"dip_sample"}),
            referrals=frozenset({"safeguarding-team/victim"}),
        ),
    )
    assert late.risk_level == "high"
    assert "dip_sample" in late.flags
    assert late.referrals == {"victim-support/victim", "safeguarding-team/victim"}
    assert late.last_decided_at == T0 + timedelta(minutes=60)


def test_referrals_and_flags_accumulate_and_are_never_withdrawn() -> None:
    first = fold(
        None,
        decided(
            0,
            level="high",
            dash=15,
            flags=frozenset({"repeat_victim"}),
            referrals=frozenset({"idva/victim"}),
        ),
    )
    lowered = fold(
        first,
        decided(
            5,
            level="standard",
            basis="regrade",
            dash=15,
            referrals=frozenset({"victim-support/victim"}),
        ),
    )
    assert lowered.referrals == {"idva/victim", "victim-support/victim"}
    assert "repeat_victim" in lowered.flags

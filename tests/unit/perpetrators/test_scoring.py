"""Every part of the RFG score (domain.md, "Perpetrators"), at its boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from perpetrators.domain.policy import Policy, RecencyBand
from perpetrators.domain.scoring import months_before, score
from shared.identity import Identity
from tests.unit.perpetrators.builders import NOW, POLICY, UNIDENTIFIABLE, incident, victim

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("age", "points"),
    [
        (timedelta(0), 5),
        (timedelta(days=30), 5),
        (timedelta(days=30) + SECOND, 4),
        (timedelta(days=90), 4),
        (timedelta(days=90) + SECOND, 3),
        (timedelta(days=180), 3),
        (timedelta(days=180) + SECOND, 2),
        (timedelta(days=365), 2),
        (timedelta(days=365) + SECOND, 1),
        (timedelta(days=700), 1),
    ],
)
def test_recency_bands_include_their_boundary_day(age: timedelta, points: int) -> None:
    latest = incident(reported_at=NOW - age)
    assert score([latest], NOW, POLICY).components.recency == points


def test_recency_counts_the_latest_incident_only() -> None:
    old, recent = incident(1, days_ago=400), incident(2, days_ago=10)
    assert score([old, recent], NOW, POLICY).components.recency == 5


def test_an_incident_reported_a_moment_after_the_clock_is_as_recent_as_can_be() -> None:
    assert score([incident(days_ago=-0.001)], NOW, POLICY).components.recency == 5


def test_the_window_is_24_calendar_months_inclusive() -> None:
    start = months_before(NOW, 24)
    assert start == datetime(2024, 11, 21, 9, 30, tzinfo=UTC)
    inside, outside = incident(1, reported_at=start), incident(2, reported_at=start - SECOND)
    result = score([inside, outside], NOW, POLICY)
    assert result.incidents_24m == 1
    assert result.components.frequency == 1


def test_nobody_with_no_incident_in_the_window_scores_nothing() -> None:
    result = score([incident(days_ago=800, risk_level="high")], NOW, POLICY)
    assert result.score == 0
    assert result.components.recency == 0
    assert result.last_incident_at is None


@pytest.mark.parametrize(("count", "frequency"), [(1, 1), (4, 4), (5, 5), (6, 5), (9, 5)])
def test_frequency_counts_incidents_up_to_five(count: int, frequency: int) -> None:
    incidents = [incident(n, days_ago=n) for n in range(count)]
    result = score(incidents, NOW, POLICY)
    assert result.components.frequency == frequency
    assert result.incidents_24m == count


@pytest.mark.parametrize(("level", "points"), [("standard", 1), ("medium", 2), ("high", 3)])
def test_gravity_of_each_risk_level(level: str, points: int) -> None:
    assert score([incident(risk_level=level)], NOW, POLICY).components.gravity == points


def test_a_child_present_adds_one_to_gravity() -> None:
    result = score([incident(risk_level="medium", child_present=True)], NOW, POLICY)
    assert result.components.gravity == 3
    assert result.children_involved


@pytest.mark.parametrize("grave", ["sexual", "honour_based", "forced_marriage", "fgm"])
def test_each_grave_abuse_type_adds_one_to_gravity(grave: str) -> None:
    found = score([incident(abuse_types=("physical", grave))], NOW, POLICY)
    assert found.components.gravity == 2


def test_two_grave_types_in_one_incident_add_one() -> None:
    found = score([incident(abuse_types=("sexual", "fgm"))], NOW, POLICY)
    assert found.components.gravity == 2


def test_other_abuse_types_add_nothing() -> None:
    kinds = ("physical", "stalking", "coercive_control", "financial")
    assert score([incident(abuse_types=kinds)], NOW, POLICY).components.gravity == 1


def test_gravity_sums_over_incidents_and_stops_at_15() -> None:
    # each: high 3 + child 1 + sexual 1 = 5
    grave = {"risk_level": "high", "child_present": True, "abuse_types": ("sexual",)}
    assert score([incident(n, n, **grave) for n in range(3)], NOW, POLICY).components.gravity == 15
    assert score([incident(n, n, **grave) for n in range(4)], NOW, POLICY).components.gravity == 15
    two = [incident(1, 1, **grave), incident(2, 2, risk_level="medium")]
    assert score(two, NOW, POLICY).components.gravity == 7


def test_victims_counts_different_identifiable_victims_up_to_three() -> None:
    incidents = [incident(n, n, victim=victim(n)) for n in range(5)]
    result = score(incidents, NOW, POLICY)
    assert result.victims_count == 5
    assert result.components.victims == 3


def test_the_same_victim_twice_is_one_victim() -> None:
    incidents = [incident(1, 1, victim=victim(1)), incident(2, 2, victim=victim(1))]
    assert score(incidents, NOW, POLICY).victims_count == 1


def test_a_victim_known_once_by_id_and_once_by_names_only_is_one_victim() -> None:
    by_id = Identity(person_id="pid-1", names_dob="ndob-1")
    by_names = Identity(person_id=None, names_dob="ndob-1")
    incidents = [incident(1, 1, victim=by_id), incident(2, 2, victim=by_names)]
    assert score(incidents, NOW, POLICY).victims_count == 1


def test_two_person_ids_are_two_victims_even_with_the_same_names_and_birth() -> None:
    a = Identity(person_id="pid-1", names_dob="ndob-same")
    b = Identity(person_id="pid-2", names_dob="ndob-same")
    assert (
        score([incident(1, 1, victim=a), incident(2, 2, victim=b)], NOW, POLICY).victims_count == 2
    )


def test_unidentifiable_victims_never_count() -> None:
    incidents = [
        incident(1, 1, victim=victim(1)),
        incident(2, 2, victim=UNIDENTIFIABLE),
        incident(3, 3, victim=UNIDENTIFIABLE),
    ]
    result = score(incidents, NOW, POLICY)
    assert result.victims_count == 1
    assert result.components.victims == 1
    assert result.incidents_24m == 3  # the incidents still count


def test_only_unidentifiable_victims_add_no_victim_points_and_take_none_away() -> None:
    result = score([incident(victim=UNIDENTIFIABLE, risk_level="high")], NOW, POLICY)
    assert result.components.victims == 0
    assert result.score == 5 * (1 + 3)


def test_the_score_is_recency_times_frequency_gravity_and_extra_victims() -> None:
    # the contract's example: recency 5, frequency 3, gravity 9, victims 2
    incidents = [
        incident(1, 5, risk_level="high", victim=victim(1)),
        incident(2, 10, risk_level="high", victim=victim(2)),
        incident(3, 20, risk_level="high", victim=victim(1)),
    ]
    result = score(incidents, NOW, POLICY)
    parts = result.components
    assert (parts.recency, parts.frequency, parts.gravity, parts.victims) == (5, 3, 9, 2)
    assert result.score == 5 * (3 + 9 + 2 * (2 - 1)) == 70


def test_every_score_records_the_policy_version_and_owner_and_its_time() -> None:
    result = score([incident()], NOW, POLICY)
    assert (result.policy_version, result.policy_owner) == ("test-7", "Test Partner Agency")
    assert result.scored_at == NOW


def test_the_score_decays_as_days_pass_without_incidents() -> None:
    incidents = [incident(n, 0, risk_level="high", victim=victim(n)) for n in range(2)]
    by_day = {
        day: score(incidents, NOW + timedelta(days=day), POLICY).score
        for day in (0, 30, 31, 90, 91, 180, 181, 365, 366, 732)
    }
    # frequency 2, gravity 6, victims 2: 10 points, times recency; none after 24 months (732 days)
    assert by_day == {
        0: 50, 30: 50, 31: 40, 90: 40, 91: 30, 180: 30, 181: 20, 365: 20, 366: 10, 732: 0,
    }  # fmt: skip


def test_the_same_incidents_and_clock_give_the_same_score() -> None:
    incidents = [incident(n, n * 7, victim=victim(n % 2)) for n in range(6)]
    assert score(incidents, NOW, POLICY) == score(list(reversed(incidents)), NOW, POLICY)


def test_a_policy_changes_the_rules_and_is_recorded() -> None:
    strict = Policy(
        version="owner-2",
        owner="Another Agency",
        recency_bands=(RecencyBand(days=7, points=10),),
        recency_otherwise=0,
    )
    assert score([incident(days_ago=7)], NOW, strict).score == 10 * (1 + 1)
    assert score([incident(days_ago=8)], NOW, strict).score == 0


def test_a_policy_with_bands_out_of_order_is_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        Policy(recency_bands=(RecencyBand(days=90, points=4), RecencyBand(days=30, points=5)))


def test_months_before_keeps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(datetime(2028, 2, 29, tzinfo=UTC), 24) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 24) == datetime(2024, 1, 15, tzinfo=UTC)

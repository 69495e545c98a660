"""The priority cohort: a score of 60 or more, or a serial perpetrator with a child present."""

from __future__ import annotations

from datetime import timedelta

from perpetrators.domain.cohort import change, is_priority
from perpetrators.domain.scoring import score
from tests.unit.perpetrators.builders import NOW, POLICY, UNIDENTIFIABLE, incident, victim


def test_a_score_of_60_is_priority_and_59_is_not() -> None:
    # 5 x (frequency 3 + gravity 9) = 60: three high-risk incidents against one victim
    sixty = [incident(n, n, risk_level="high") for n in range(3)]
    assert score(sixty, NOW, POLICY).score == 60
    assert is_priority(score(sixty, NOW, POLICY), POLICY)
    # a medium-risk third incident: 5 x (3 + 8) = 55, just under
    under = [*sixty[:2], incident(3, 3, risk_level="medium")]
    assert score(under, NOW, POLICY).score == 55
    assert not is_priority(score(under, NOW, POLICY), POLICY)


def test_a_serial_perpetrator_with_a_child_present_is_priority_whatever_the_score() -> None:
    incidents = [
        incident(1, 300, victim=victim(1)),
        incident(2, 320, victim=victim(2), child_present=True),
    ]
    result = score(incidents, NOW, POLICY)
    assert result.score < 60
    assert is_priority(result, POLICY)


def test_a_serial_perpetrator_without_a_child_present_is_not_priority_by_that_route() -> None:
    incidents = [incident(1, 300, victim=victim(1)), incident(2, 320, victim=victim(2))]
    assert not is_priority(score(incidents, NOW, POLICY), POLICY)


def test_one_victim_with_a_child_present_is_not_a_serial_perpetrator() -> None:
    incidents = [incident(1, 300, child_present=True), incident(2, 301, child_present=True)]
    assert not is_priority(score(incidents, NOW, POLICY), POLICY)


def test_an_unidentifiable_second_victim_does_not_make_a_serial_perpetrator() -> None:
    incidents = [
        incident(1, 300, victim=victim(1)),
        incident(2, 320, victim=UNIDENTIFIABLE, child_present=True),
    ]
    result = score(incidents, NOW, POLICY)
    assert result.victims_count == 1
    assert not is_priority(result, POLICY)


def test_the_child_route_closes_when_the_childs_incident_leaves_the_window() -> None:
    incidents = [
        incident(1, 10, victim=victim(1)),
        incident(2, 700, victim=victim(2), child_present=True),
    ]
    assert is_priority(score(incidents, NOW, POLICY), POLICY)
    later = NOW + timedelta(days=40)  # the child's incident is now over 24 months old
    assert not is_priority(score(incidents, later, POLICY), POLICY)


def test_a_quiet_year_releases_a_perpetrator_the_score_put_in() -> None:
    incidents = [incident(n, 0, risk_level="high") for n in range(3)]
    assert is_priority(score(incidents, NOW, POLICY), POLICY)
    assert not is_priority(score(incidents, NOW + timedelta(days=31), POLICY), POLICY)


def test_entering_is_prioritised_leaving_is_released_staying_is_nothing() -> None:
    assert change(False, True) == "prioritised"
    assert change(True, False) == "released"
    assert change(True, True) is None
    assert change(False, False) is None

"""Listing, merging, waiting and ordering rules of domain.md (MARAC lists)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from marac.domain.listing import (
    MaracCase,
    agenda,
    case_to_join,
    earliest_date,
    listed_on,
    place,
    waiting_queue,
)
from tests.unit.marac.builders import NOW, TODAY, case, facts, meeting

D = TODAY  # 2026-11-21


def days(n: int) -> date:
    return D + timedelta(days=n)


@pytest.mark.parametrize(
    ("decided_on", "research", "today", "expected"),
    [
        (D, 5, D, days(5)),
        (D, 0, D, D),
        (D, 10, D, days(10)),
        (days(-30), 5, D, D),  # an old decision never goes on a meeting already held
    ],
)
def test_the_earliest_meeting_leaves_the_research_period(decided_on, research, today, expected):
    assert earliest_date(decided_on, research, today) == expected


@pytest.mark.parametrize(
    ("meetings", "expected"),
    [
        ([meeting("m1", days(7)), meeting("m2", days(14))], ["m1", "m2"]),
        ([meeting("m2", days(14)), meeting("m1", days(7))], ["m1", "m2"]),
        ([meeting("m1", days(4)), meeting("m2", days(5))], ["m2"]),
        ([meeting("m1", days(7), capacity=2, listed=2), meeting("m2", days(14))], ["m2"]),
        ([meeting("m1", days(7), capacity=3, listed=2)], ["m1"]),
        ([meeting("m1", days(7), capacity=1, listed=1)], []),
        ([], []),
    ],
)
def test_a_new_case_goes_on_the_earliest_meeting_with_room(meetings, expected):
    placement = place([], meetings, "southampton", D, D)
    assert placement.join is None
    assert [m.meeting_id for m in placement.meetings] == expected


def test_meetings_of_other_areas_are_not_offered():
    other = meeting("m1", days(7))
    portsmouth = type(other)("m2", "portsmouth", days(7), 16, 0)
    assert place([], [portsmouth], "southampton", D, D).meetings == []


def test_no_meeting_with_room_means_the_case_waits():
    full = [meeting("m1", days(7), capacity=1, listed=1)]
    placement = place([], full, "southampton", D, D)
    assert placement.join is None
    assert placement.meetings == []
    assert placement.earliest == days(5)


@pytest.mark.parametrize(
    ("victim_cases", "expected"),
    [
        ([case("c1", meeting_date=days(7))], "c1"),
        ([case("c1", meeting_date=D)], "c1"),  # a meeting today is still upcoming
        ([case("c1", meeting_date=days(-1))], None),  # held: a new case
        ([case("c1", meeting_date=days(14)), case("c2", meeting_date=days(7))], "c2"),
        (
            [
                case(
                    "c1",
                    status="awaiting_meeting",
                    meeting_id=None,
                    meeting_date=None,
                    listed_at=None,
                )
            ],
            "c1",
        ),
        (
            [
                case("c1", meeting_date=days(-60)),
                case(
                    "c2",
                    status="awaiting_meeting",
                    meeting_id=None,
                    meeting_date=None,
                    listed_at=None,
                ),
            ],
            "c2",
        ),
        ([], None),
    ],
)
def test_an_open_case_of_the_victim_is_joined(victim_cases, expected):
    joined = case_to_join(victim_cases, D)
    assert (joined.case_id if joined else None) == expected


def test_joining_offers_no_meeting_so_the_victim_is_never_listed_twice():
    placement = place(
        [case("c1", meeting_date=days(7))], [meeting("m2", days(14))], "southampton", D, D
    )
    assert placement.join is not None
    assert placement.meetings == []


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], False),
        ([days(-100)], True),
        ([days(-364)], True),
        ([days(-366)], False),
    ],
)
def test_a_victim_listed_in_the_year_before_is_a_repeat(history, expected):
    victim_cases = [case(f"c{i}", meeting_date=d) for i, d in enumerate(history)]
    placement = place(victim_cases, [meeting("m9", days(7))], "southampton", D, D)
    assert placement.join is None
    assert placement.repeat is expected


def test_a_waiting_case_does_not_make_a_repeat():
    waiting = case(
        "c1", status="awaiting_meeting", meeting_id=None, meeting_date=None, listed_at=None
    )
    assert place([waiting], [], "southampton", D, D).repeat is False


def test_the_agenda_puts_cases_with_children_first_then_priority_then_time_listed():
    adult_high = case("adult-high", incidents=(facts(dash_score=24),))
    adult_low = case("adult-low", incidents=(facts(dash_score=14),))
    child_low = case("child-low", incidents=(facts(dash_score=14, children_count=1),))
    child_high = case("child-high", incidents=(facts(dash_score=20, children_count=3),))
    child_same_later = case(
        "child-same-later",
        listed_at=NOW + timedelta(minutes=5),
        incidents=(facts(dash_score=20, children_count=1),),
    )
    ordered = agenda([adult_low, child_same_later, adult_high, child_low, child_high])
    assert [c.case_id for c in ordered] == [
        "child-high",
        "child-same-later",
        "child-low",
        "adult-high",
        "adult-low",
    ]


def test_waiting_cases_get_places_by_priority_then_time_waited():
    def waiting(case_id: str, dash: int, minutes: int) -> MaracCase:
        return case(
            case_id,
            status="awaiting_meeting",
            meeting_id=None,
            meeting_date=None,
            listed_at=None,
            awaiting_since=NOW + timedelta(minutes=minutes),
            incidents=(facts(dash_score=dash),),
        )

    queue = waiting_queue(
        [
            waiting("low", 14, 0),
            waiting("high-late", 20, 9),
            waiting("high-early", 20, 1),
            case("listed"),
        ]
    )
    assert [c.case_id for c in queue] == ["high-early", "high-late", "low"]


def test_a_case_listed_on_a_meeting_carries_its_date_and_time():
    waiting = case(
        "c1", status="awaiting_meeting", meeting_id=None, meeting_date=None, listed_at=None
    )
    later = NOW + timedelta(hours=2)
    listed = listed_on(waiting, meeting("m7", days(9)), later)
    assert (listed.status, listed.meeting_id, listed.meeting_date, listed.listed_at) == (
        "listed",
        "m7",
        days(9),
        later,
    )
    assert listed.incidents == waiting.incidents

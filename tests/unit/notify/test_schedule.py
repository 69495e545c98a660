"""When school notices are due (Operation Encompass) and when reviews fall due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.domain.schedule import (
    review_due,
    school_day_start_after,
    school_notice_release,
)

LONDON = ZoneInfo("Europe/London")
START = time(8, 30)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("incident", "school_day_starts"),
    [
        ("2026-11-18 21:15", "2026-11-19 08:30"),  # Wednesday night -> Thursday
        ("2026-11-20 19:00", "2026-11-23 08:30"),  # Friday evening -> Monday
        ("2026-11-21 10:00", "2026-11-23 08:30"),  # Saturday -> Monday
        ("2026-11-22 23:59", "2026-11-23 08:30"),  # Sunday night -> Monday
        ("2026-11-23 02:00", "2026-11-23 08:30"),  # Monday small hours -> that morning
        ("2026-11-23 08:30", "2026-11-24 08:30"),  # at the bell -> the next day
        ("2026-11-23 12:00", "2026-11-24 08:30"),  # Monday lunchtime -> Tuesday
        ("2026-03-27 20:00", "2026-03-30 08:30"),  # over the clocks going forward
        ("2026-10-23 20:00", "2026-10-26 08:30"),  # over the clocks going back
    ],
)
def test_school_day_start_after_an_incident(incident: str, school_day_starts: str) -> None:
    assert school_day_start_after(local(incident), START, LONDON) == local(school_day_starts)


def test_school_day_start_is_london_time_whatever_the_zone_of_the_incident() -> None:
    # 23:30 UTC on a summer Thursday is 00:30 BST on Friday: Friday 08:30 BST = 07:30 UTC
    found = school_day_start_after(datetime(2026, 7, 2, 23, 30, tzinfo=UTC), START, LONDON)
    assert found == datetime(2026, 7, 3, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("release", "expected"),
    [(time(7, 0), "2026-11-19 07:00"), (time(9, 0), "2026-11-19 08:30")],
)
def test_school_notices_are_released_before_the_school_day(release: time, expected: str) -> None:
    found = school_notice_release(local("2026-11-18 21:15"), START, release, LONDON)
    assert found == local(expected)


def test_high_risk_review_falls_due_within_the_window() -> None:
    decided = datetime(2026, 11, 18, 21, 20, tzinfo=UTC)
    assert review_due(decided, timedelta(hours=24)) == datetime(2026, 11, 19, 21, 20, tzinfo=UTC)

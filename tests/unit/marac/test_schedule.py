"""The standing schedule of an area's meetings."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from marac.domain.schedule import meeting_dates

ANCHOR = date(2026, 1, 5)  # a Monday


@pytest.mark.parametrize(
    ("weekday", "every", "today", "weeks", "expected"),
    [
        # the week of 2026-11-16 is 45 weeks after the anchor's: not a meeting fortnight
        ("tuesday", 2, date(2026, 11, 16), 4, [date(2026, 11, 24), date(2026, 12, 8)]),
        ("tuesday", 2, date(2026, 11, 18), 2, [date(2026, 11, 24)]),
        ("thursday", 1, date(2026, 11, 21), 2, [date(2026, 11, 26), date(2026, 12, 3)]),
        ("tuesday", 2, date(2026, 11, 24), 0, [date(2026, 11, 24)]),
        ("tuesday", 2, date(2026, 11, 25), 1, []),
        ("saturday", 4, date(2026, 1, 1), 6, [date(2026, 1, 10), date(2026, 2, 7)]),
    ],
)
def test_meetings_fall_on_the_weekday_every_so_many_weeks(weekday, every, today, weeks, expected):
    assert meeting_dates(weekday, every, ANCHOR, today, weeks) == expected


def test_the_fortnight_is_the_same_whenever_it_is_computed():
    early = meeting_dates("tuesday", 2, ANCHOR, date(2026, 3, 1), 52)
    later = meeting_dates("tuesday", 2, ANCHOR, date(2026, 9, 1), 8)
    assert set(later) <= set(early)
    assert all((b - a).days == 14 for a, b in itertools.pairwise(early))


def test_a_cadence_below_one_week_is_refused():
    with pytest.raises(ValueError, match="every_weeks"):
        meeting_dates("tuesday", 0, ANCHOR, date(2026, 3, 1), 4)

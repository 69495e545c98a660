"""The standing schedule of an area's MARAC: a weekday, every so many weeks."""

from __future__ import annotations

from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def meeting_dates(
    weekday: str, every_weeks: int, anchor: date, today: date, weeks_ahead: int
) -> list[date]:
    """The dates from `today` up to `weeks_ahead` weeks on when the area meets.

    Meetings fall on `weekday` in the weeks `every_weeks` apart counted from the week
    of `anchor`, so the same fortnight is kept whenever the schedule is computed.
    """
    if every_weeks < 1:
        raise ValueError("every_weeks must be at least 1")
    anchor_monday = anchor - timedelta(days=anchor.weekday())
    offset = WEEKDAYS.index(weekday)
    last = today + timedelta(weeks=weeks_ahead)
    found = []
    day = today
    while day <= last:
        if day.weekday() == offset:
            weeks = (day - timedelta(days=offset) - anchor_monday).days // 7
            if weeks % every_weeks == 0:
                found.append(day)
        day += timedelta(days=1)
    return found

"""When referrals are due: schools before their school day, reviews within a window."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SCHOOL_DAYS = range(5)  # Monday to Friday


def school_day_start_after(moment: datetime, day_start: time, timezone: ZoneInfo) -> datetime:
    """The start of the first school day (Mon-Fri, local time) after `moment`.

    An incident at 02:00 on a Monday is followed by Monday's school day; one on a
    Friday evening by Monday's.
    """
    day = moment.astimezone(timezone).date()
    while True:
        start = datetime.combine(day, day_start, tzinfo=timezone)
        if day.weekday() in SCHOOL_DAYS and start > moment:
            return start
        day += timedelta(days=1)


def school_notice_release(
    incident_at: datetime, day_start: time, release: time, timezone: ZoneInfo
) -> datetime:
    """When a school's notice is released: on the school day after the incident, at
    `release` (before `day_start`), or at `day_start` if `release` is not earlier."""
    start = school_day_start_after(incident_at, day_start, timezone)
    released = datetime.combine(start.date(), release, tzinfo=timezone)
    return min(released, start)


def review_due(decided_at: datetime, within: timedelta) -> datetime:
    """When the safeguarding team must have reviewed a high-risk referral."""
    return decided_at + within

"""Acknowledgement clocks (domain.md, Clocks): when each agency must acknowledge a referral.

The policy is versioned configuration, like triage's: `ClockPolicy.version` names it.
Working days are Monday to Friday in the policy's time zone; a clock started at the
weekend starts on Monday at 00:00.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WORKING_DAYS = range(5)  # Monday to Friday


@dataclass(frozen=True)
class Due:
    """One rule: a fixed window, or a number of working days."""

    hours: float = 0
    working_days: int = 0


@dataclass(frozen=True)
class ClockPolicy:
    version: str = "clocks-2026-11"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    by_agency: dict[str, Due] = field(
        default_factory=lambda: {
            "childrens-social-care": Due(working_days=1),
            "idva": Due(hours=24),
            "victim-support": Due(working_days=2),
        }
    )
    safeguarding: dict[str, Due] = field(
        default_factory=lambda: {
            "high_risk": Due(hours=24),
            "medium_risk": Due(hours=72),
            "dip_sample": Due(hours=7 * 24),
        }
    )
    school_noon: time = time(12, 0)


def add_working_days(start: datetime, days: int, timezone: ZoneInfo) -> datetime:
    """The same local time `days` working days after `start` (from Monday 00:00 when
    `start` falls at the weekend)."""
    local = start.astimezone(timezone)
    while local.weekday() not in WORKING_DAYS:
        local = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=timezone)
    day, left = local.date(), days
    while left:
        day += timedelta(days=1)
        if day.weekday() in WORKING_DAYS:
            left -= 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=timezone)


def school_noon_after(delivered: datetime, policy: ClockPolicy) -> datetime:
    """12:00 on the school day the notice is delivered; the next school day's when it is
    delivered after noon or on a day without school."""
    day = delivered.astimezone(policy.timezone).date()
    while True:
        noon = datetime.combine(day, policy.school_noon, tzinfo=policy.timezone)
        if day.weekday() in WORKING_DAYS and noon > delivered:
            return noon
        day += timedelta(days=1)


def due_by(
    agency: str, reason: str, created_at: datetime, deliver_after: datetime, policy: ClockPolicy
) -> datetime:
    """When the agency must have acknowledged a referral made at `created_at`."""
    if agency == "school":
        return school_noon_after(max(created_at, deliver_after), policy)
    rule = policy.safeguarding.get(reason) if agency == "safeguarding-team" else None
    rule = rule or policy.by_agency.get(agency) or Due(hours=24)
    if rule.working_days:
        return add_working_days(created_at, rule.working_days, policy.timezone)
    return created_at + timedelta(hours=rule.hours)


def is_overdue(due: datetime, acknowledged_at: datetime | None, now: datetime) -> bool:
    """Not acknowledged by `due`: still unacknowledged after it, or acknowledged late."""
    return (acknowledged_at or now) > due

"""Acknowledgement clocks (`domain/clocks.py`, domain.md "Clocks"): when each agency must
acknowledge, in working days where the policy says so, and what overdue means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.domain.clocks import ClockPolicy, add_working_days, due_by, is_overdue

LONDON = ZoneInfo("Europe/London")
POLICY = ClockPolicy()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.mark.parametrize(
    ("agency", "reason", "made", "due"),
    [
        ("idva", "high_risk", "2026-11-18 21:20", "2026-11-19 21:20"),
        ("safeguarding-team", "high_risk", "2026-11-18 21:20", "2026-11-19 21:20"),
        ("safeguarding-team", "medium_risk", "2026-11-18 21:20", "2026-11-21 21:20"),
        ("safeguarding-team", "dip_sample", "2026-11-18 21:20", "2026-11-25 21:20"),
        # working days: Wednesday -> Thursday; Friday -> Monday; Saturday -> Tuesday 00:00
        ("childrens-social-care", "children_in_household", "2026-11-18 21:20", "2026-11-19 21:20"),
        ("childrens-social-care", "children_in_household", "2026-11-20 15:00", "2026-11-23 15:00"),
        ("childrens-social-care", "children_in_household", "2026-11-21 10:00", "2026-11-24 00:00"),
        ("victim-support", "standard_risk", "2026-11-19 09:00", "2026-11-23 09:00"),
        ("victim-support", "standard_risk", "2026-11-17 09:00", "2026-11-19 09:00"),
    ],
)
def test_due_by_each_agencys_policy(agency: str, reason: str, made: str, due: str) -> None:
    assert due_by(agency, reason, local(made), local(made), POLICY) == local(due)


@pytest.mark.parametrize(
    ("made", "delivered", "due"),
    [
        # released at 07:00 on Thursday's school day: due at noon that day
        ("2026-11-18 21:20", "2026-11-19 07:00", "2026-11-19 12:00"),
        # Friday night: Monday's school day
        ("2026-11-20 22:00", "2026-11-23 07:00", "2026-11-23 12:00"),
        # delivered after noon: the next school day's noon
        ("2026-11-19 14:00", "2026-11-19 14:00", "2026-11-20 12:00"),
        ("2026-11-22 10:00", "2026-11-19 07:00", "2026-11-23 12:00"),  # made on a Sunday
    ],
)
def test_a_school_acknowledges_by_noon_on_the_school_day_it_hears(
    made: str, delivered: str, due: str
) -> None:
    found = due_by("school", "operation_encompass", local(made), local(delivered), POLICY)
    assert found == local(due)


def test_working_days_keep_the_local_time_across_a_clock_change() -> None:
    # the clocks go back on Sunday 2026-10-25: Friday 10:00 BST -> Monday 10:00 GMT
    found = add_working_days(local("2026-10-23 10:00"), 1, LONDON)
    assert found == local("2026-10-26 10:00")
    elapsed = found.astimezone(UTC) - local("2026-10-23 10:00").astimezone(UTC)
    assert elapsed == timedelta(days=3, hours=1)


def test_overdue_means_not_acknowledged_by_due_by() -> None:
    due = local("2026-11-19 12:00")
    assert not is_overdue(due, None, due)
    assert is_overdue(due, None, due + timedelta(seconds=1))
    assert not is_overdue(due, due - timedelta(hours=1), due + timedelta(days=3))
    assert is_overdue(due, due + timedelta(hours=1), due + timedelta(days=3))  # late

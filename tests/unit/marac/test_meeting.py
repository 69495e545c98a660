"""The meeting itself (domain.md): an action's status and its one escalation, and an
outcome naming every case on the list once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from marac.domain.meeting import Action, outcome_problems, returned_before, to_escalate
from tests.unit.marac.builders import NOW, TODAY


def action(action_id: str = "a1", due: int = 0, **overrides: object) -> Action:
    values: dict[str, object] = {
        "action_id": action_id,
        "case_id": "c1",
        "area": "southampton",
        "agency": "housing",
        "description": "Check the tenancy",
        "due_by": TODAY + timedelta(days=due),
        "done": False,
        "agreed_at": NOW,
    }
    values.update(overrides)
    return Action(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("due", "done", "status"),
    [(1, False, "open"), (0, False, "open"), (-1, False, "overdue"), (-1, True, "done")],
)
def test_an_action_is_overdue_only_once_its_due_date_has_passed(
    due: int, done: bool, status: str
) -> None:
    assert action(due=due, done=done).status(TODAY) == status


def test_each_overdue_action_is_escalated_once() -> None:
    late = action("late", due=-2)
    told = action("told", due=-2, escalated_at=NOW)
    done = action("done", due=-2, done=True)
    coming = action("coming", due=3)
    assert to_escalate([late, told, done, coming], TODAY) == [late]
    assert to_escalate([late], TODAY - timedelta(days=2)) == []


def locs(listed: list[str], discussed: list[str], deferred: list[str]) -> list[object]:
    return [p.loc for p in outcome_problems(listed, discussed, deferred)]


def test_an_outcome_naming_every_case_once_is_accepted() -> None:
    assert locs(["c1", "c2", "c3"], ["c3", "c1"], ["c2"]) == []
    assert locs([], [], []) == []


@pytest.mark.parametrize(
    ("discussed", "deferred", "expected"),
    [
        (["c1"], [], [("body",)]),
        (["c1", "c2"], ["c1"], [("body", "deferred", 0)]),
        (["c1", "c1", "c2"], [], [("body", "discussed", 1)]),
        (["c1", "c2", "c9"], [], [("body", "discussed", 2)]),
        ([], ["c9"], [("body", "deferred", 0), ("body",)]),
    ],
)
def test_an_outcome_must_name_every_listed_case_once(
    discussed: list[str], deferred: list[str], expected: list[object]
) -> None:
    assert locs(["c1", "c2"], discussed, deferred) == expected


def test_research_before_the_meeting_is_that_of_an_earlier_local_day() -> None:
    london = ZoneInfo("Europe/London")
    meeting = date(2026, 11, 12)
    firsts = {
        "police": datetime(2026, 11, 10, 9, tzinfo=UTC),
        # 23:30 UTC on the 11th is still the 11th in London (GMT): before the meeting's day
        "housing": datetime(2026, 11, 11, 23, 30, tzinfo=UTC),
        # on the meeting's day itself: too late
        "health": datetime(2026, 11, 12, 0, 30, tzinfo=UTC),
    }
    assert returned_before(firsts, meeting, london) == ["housing", "police"]
    assert returned_before({}, meeting, london) == []

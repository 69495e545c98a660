"""The meeting itself (domain.md "MARAC: referrals, research, actions"): each agency's
research before it, the actions it agrees and their clock, and its outcome."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

ActionStatus = Literal["open", "overdue", "done"]


@dataclass(frozen=True)
class Research:
    """What one agency knows of a case before the meeting (one version of it)."""

    case_id: str
    agency: str
    version: int
    known: bool
    summary: str | None
    risks: str | None
    completed_by: str
    recorded_at: datetime


def returned_before(
    first_returned: dict[str, datetime], meeting_date: date, zone: tzinfo
) -> list[str]:
    """The agencies whose research came before the meeting's day (their first version
    recorded on an earlier local date), sorted: only who, never what they found."""
    return sorted(
        a for a, at in first_returned.items() if at.astimezone(zone).date() < meeting_date
    )


@dataclass(frozen=True)
class Action:
    """An action the meeting agreed, owned by one agency, due by a date."""

    action_id: str
    case_id: str
    area: str
    agency: str
    description: str
    due_by: date
    done: bool
    agreed_at: datetime
    outcome: str | None = None
    completed_at: datetime | None = None
    escalated_at: datetime | None = None

    def status(self, today: date) -> ActionStatus:
        """Open until done; overdue once its due date has passed without it."""
        if self.done:
            return "done"
        return "overdue" if today > self.due_by else "open"


def to_escalate(actions: Iterable[Action], today: date) -> list[Action]:
    """Overdue actions not yet escalated: each is escalated once."""
    return [a for a in actions if a.status(today) == "overdue" and a.escalated_at is None]


@dataclass(frozen=True)
class OutcomeProblem:
    loc: tuple[str | int, ...]
    msg: str


def outcome_problems(
    listed: Sequence[str], discussed: Sequence[str], deferred: Sequence[str]
) -> list[OutcomeProblem]:
    """A meeting's outcome names every case on its list once: discussed or deferred."""
    found: list[OutcomeProblem] = []
    on_list = set(listed)
    seen: set[str] = set()
    for field, ids in (("discussed", discussed), ("deferred", deferred)):
        for i, case_id in enumerate(ids):
            if case_id not in on_list:
                found.append(OutcomeProblem(("body", field, i), "is not a case on this meeting"))
            elif case_id in seen:
                found.append(OutcomeProblem(("body", field, i), "names a case already named"))
            seen.add(case_id)
    missing = sorted(on_list - seen)
    if missing:
        found.append(
            OutcomeProblem(("body",), f"every case on the list must be named: {len(missing)} not")
        )
    return found

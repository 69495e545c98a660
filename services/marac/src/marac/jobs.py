"""Marac's background jobs, each by one replica at a time (`shared.periodic`): the standing
schedule, meetings created ahead at start-up, then every day (`handlers.keep_schedule`);
and the actions' clock, overdue actions escalated once (`handlers.escalate_overdue`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from marac import handlers
from marac.config import Settings
from shared.periodic import PeriodicJob
from shared.service import Platform


class ScheduleKeeper(PeriodicJob[Settings]):
    """Keeps the standing schedule now and then every `interval` seconds."""

    name = "marac.schedule"
    what = "meeting(s) created"

    async def round(self, platform: Platform[Settings]) -> int:
        return await handlers.keep_schedule(platform, datetime.now(UTC))


def _now() -> datetime:
    return datetime.now(UTC)


class ActionClock(PeriodicJob[Settings]):
    """Escalates overdue actions every `interval` seconds. The clock is injected, so tests
    move it rather than wait; the escalation is recorded in the database, so a restart
    never escalates an action twice."""

    name = "marac.actions"
    what = "overdue action(s) escalated"

    def __init__(self, interval: float, clock: Callable[[], datetime] = _now) -> None:
        super().__init__(interval)
        self.clock = clock

    async def round(self, platform: Platform[Settings]) -> int:
        total = 0
        while escalated := await handlers.escalate_overdue(platform, self.clock()):
            total += escalated
        return total

"""Marac's background job: the standing schedule, meetings created ahead at start-up,
then every day (`handlers.keep_schedule`), by one replica at a time (`shared.periodic`)."""

from __future__ import annotations

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

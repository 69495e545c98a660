"""Marac's background job: the standing schedule, meetings created ahead at start-up,
then every day (`handlers.keep_schedule`), by one replica at a time (`shared.once`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation

from marac import handlers
from marac.config import Settings
from shared.once import one_replica
from shared.service import Platform

log = logging.getLogger(__name__)


class ScheduleKeeper:
    """Runs `handlers.keep_schedule` now and then every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, platform: Platform[Settings]) -> int | None:
        """Keep the schedule now; the meetings created, or None when another replica is
        keeping it at this moment (it creates them: this round is its)."""
        with suppress_instrumentation():  # a clock, not an incident: not traced
            async with one_replica(platform.engine, "marac.schedule") as mine:
                if not mine:
                    log.info("schedule: kept by another replica")
                    return None
                created = await handlers.keep_schedule(platform, datetime.now(UTC))
        log.info("schedule: %d meeting(s) created", created)
        return created

    async def start(self, platform: Platform[Settings]) -> None:
        await self.run_once(platform)
        self._task = asyncio.create_task(self._run(platform), name="marac-schedule")

    async def stop(self, _: Platform[Settings]) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, platform: Platform[Settings]) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once(platform)
            except Exception as exc:  # noqa: BLE001 - the daily loop must outlive a bad day
                log.warning("schedule: %s; will try again", type(exc).__name__)

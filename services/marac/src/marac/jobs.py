"""Marac's background job: the standing schedule, meetings created ahead at start-up,
then every day (`handlers.keep_schedule`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from marac import handlers
from marac.config import Settings
from shared.service import Platform

log = logging.getLogger(__name__)


class ScheduleKeeper:
    """Runs `handlers.keep_schedule` now and then every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self, platform: Platform[Settings]) -> None:
        created = await handlers.keep_schedule(platform, datetime.now(UTC))
        log.info("schedule: %d meeting(s) created", created)
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
                created = await handlers.keep_schedule(platform, datetime.now(UTC))
                log.info("schedule: %d meeting(s) created", created)
            except Exception as exc:  # noqa: BLE001 - the daily loop must outlive a bad day
                log.warning("schedule: %s; will try again", type(exc).__name__)

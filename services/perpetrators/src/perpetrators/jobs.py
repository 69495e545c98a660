"""The daily re-score: every perpetrator scored again, so that recency decays and a
quiet perpetrator leaves the cohort. Runs at start-up, then every interval, by one
replica at a time (`shared.once`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation

from perpetrators import handlers
from perpetrators.config import Settings
from shared.once import one_replica
from shared.service import Platform

log = logging.getLogger(__name__)


class DailyRescore:
    """Runs `handlers.rescore_all` at start-up and then every `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], datetime]) -> None:
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, platform: Platform[Settings]) -> int | None:
        """Re-score everyone now (by the clock); the number who entered or left the cohort,
        or None when another replica is re-scoring at this moment (the round is its)."""
        async with one_replica(platform.engine, "perpetrators.rescore") as mine:
            if not mine:
                log.info("re-score: done by another replica")
                return None
            with suppress_instrumentation():  # a clock, not an incident: not traced
                changed = await handlers.rescore_all(platform, self._clock())
        log.info("re-score: %d cohort change(s)", changed)
        return changed

    async def start(self, platform: Platform[Settings]) -> None:
        await self.run_once(platform)
        self._task = asyncio.create_task(self._run(platform), name="perpetrators-rescore")

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
                log.warning("re-score: %s; will try again", type(exc).__name__)

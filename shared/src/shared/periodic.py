"""A periodic job of a service: one round at start-up, then one every interval, each by
one replica at a time (`shared.once`), untraced (a clock, not an incident), and a round
that fails is logged and tried again at the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import Generic

from opentelemetry.instrumentation.utils import suppress_instrumentation

from shared.once import one_replica
from shared.service import Platform, Settings

log = logging.getLogger(__name__)


class PeriodicJob(ABC, Generic[Settings]):
    """Runs `round` at start-up and then every `interval` seconds.

    `name` is the job's lock across replicas and its task's name; `what` says in the log
    what the number a round returns counts."""

    name: str
    what: str

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def round(self, platform: Platform[Settings]) -> int:
        """Do the job once; how many things it changed."""

    async def run_once(self, platform: Platform[Settings]) -> int | None:
        """One round now; what it changed, or None when another replica is doing this
        round at this moment (the round is its)."""
        with suppress_instrumentation():
            async with one_replica(platform.engine, self.name) as mine:
                if not mine:
                    log.info("%s: done by another replica", self.name)
                    return None
                changed = await self.round(platform)
        log.info("%s: %d %s", self.name, changed, self.what)
        return changed

    async def start(self, platform: Platform[Settings]) -> None:
        await self.run_once(platform)
        self._task = asyncio.create_task(self._run(platform), name=self.name)

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
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad round
                log.warning("%s: %s; will try again", self.name, type(exc).__name__)

"""The daily re-score: every perpetrator scored again, so that recency decays and a
quiet perpetrator leaves the cohort. Runs at start-up, then every interval, by one
replica at a time (`shared.periodic`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from perpetrators import handlers
from perpetrators.config import Settings
from shared.periodic import PeriodicJob
from shared.service import Platform


class DailyRescore(PeriodicJob[Settings]):
    """Re-scores everyone (by the clock) at start-up and then every `interval` seconds."""

    name = "perpetrators.rescore"
    what = "cohort change(s)"

    def __init__(self, interval: float, clock: Callable[[], datetime]) -> None:
        super().__init__(interval)
        self._clock = clock

    async def round(self, platform: Platform[Settings]) -> int:
        return await handlers.rescore_all(platform, self._clock())

"""Records' periodic jobs, each by one replica at a time (`shared.periodic`): the
retention job erases entries kept long enough; the chain check verifies every chain and
sets `mash_records_chain_broken`, which Prometheus alerts on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from records import handlers
from records.config import Settings
from shared.periodic import PeriodicJob
from shared.service import Platform

log = logging.getLogger(__name__)


class Retention(PeriodicJob[Settings]):
    """Erases (and logs the erasure of) entries older than `RECORDS_RETENTION_DAYS`."""

    name = handlers.RETENTION
    what = "entries erased"

    def __init__(self, records: handlers.Records, clock: Callable[[], datetime]) -> None:
        super().__init__(records.platform.settings.retention_interval_seconds)
        self._records = records
        self._clock = clock

    async def round(self, platform: Platform[Settings]) -> int:
        return await handlers.retain(self._records, self._clock())


class ChainCheck(PeriodicJob[Settings]):
    """Verifies every chain; a break sets `mash_records_chain_broken` to 1."""

    name = "records.verify"
    what = "entries verified"

    def __init__(self, records: handlers.Records) -> None:
        super().__init__(records.platform.settings.verify_interval_seconds)
        self._records = records

    async def start(self, platform: Platform[Settings]) -> None:
        # not at start-up: walking years of entries must not hold the service unready
        self._task = asyncio.create_task(self._run(platform), name=self.name)

    async def round(self, platform: Platform[Settings]) -> int:
        verdict = await handlers.verify(self._records)
        if (broken := verdict.broken) is not None:
            log.error(
                "chain of %s broken at entry %s: %s", broken.service, broken.entry_id, broken.reason
            )
        return verdict.entries

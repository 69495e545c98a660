"""Triage's background job: policy trials and the re-decisions of an applied policy.

One replica at a time (`shared.periodic`: a PostgreSQL advisory lock held for the round),
so two replicas never run the same trial; each step commits its checkpoint, so a replica
that stops mid-trial leaves it to the next round (its own after a restart, or another
replica's), which goes on from there. A trial whose data fails it is marked failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from opentelemetry.instrumentation.utils import suppress_instrumentation

from shared.kafka import is_transient
from shared.periodic import PeriodicJob
from shared.service import Platform
from triage import repository, trials
from triage.config import Settings
from triage.handlers import Triage

log = logging.getLogger(__name__)


class PolicyTrials(PeriodicJob[Settings]):
    """Every interval: finish the applied policies' re-decisions, then the running trials."""

    name = "triage.policy-trials"
    what = "incident(s) decided"

    def __init__(
        self, triage: Triage, interval: float, batch: int, clock: Callable[[], datetime]
    ) -> None:
        super().__init__(interval)
        self._triage = triage
        self._batch = batch
        self._clock = clock

    async def start(self, platform: Platform[Settings]) -> None:
        """Only the loop: a trial left running is taken up by its first round, never by
        the start-up (which would hold the app's start until it finished)."""
        self._task = asyncio.create_task(self._run(platform), name=self.name)

    async def run_once(self, platform: Platform[Settings]) -> int | None:
        """A round only when there is work: an idle triage takes no lock and logs nothing
        every interval."""
        with suppress_instrumentation():  # polling is not traced: an idle stack makes no spans
            async with platform.sessions() as session:
                idle = not await repository.redecisions(session)
                idle = idle and not await repository.running_trials(session)
        return 0 if idle else await super().run_once(platform)

    async def round(self, platform: Platform[Settings]) -> int:
        decided = 0
        async with platform.sessions() as session:
            pending = await repository.redecisions(session)
        for redecision in pending:
            current: repository.Redecision | None = redecision
            while current is not None:
                step, current = await trials.redecision_step(
                    self._triage, current, self._clock(), self._batch
                )
                decided += step
        async with platform.sessions() as session:
            running = await repository.running_trials(session)
        for trial_id in running:
            decided += await self._run_trial(trial_id)
        return decided

    async def _run_trial(self, trial_id: str) -> int:
        decided = 0
        try:
            while step := await trials.trial_step(self._triage, trial_id, self._batch):
                decided += step
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("policy trial %s failed: %s", trial_id, type(exc).__name__)
            await trials.fail_trial(self._triage, trial_id)
        return decided

"""A periodic job: a round at start, one per interval, and a failing round is tried again."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from shared.periodic import PeriodicJob


class Counting(PeriodicJob[Any]):
    name = "counting"
    what = "things"

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(interval=0.001)
        self.rounds = 0
        self.fail_first = fail_first
        self.done = asyncio.Event()

    async def round(self, platform: Any) -> int:
        self.rounds += 1
        if self.rounds > 1 and self.rounds <= 1 + self.fail_first:
            raise RuntimeError("a bad round")
        if self.rounds >= 3 + self.fail_first:
            self.done.set()
        return self.rounds


def platform() -> Any:
    """The job needs only its platform's engine dialect (one process owns SQLite)."""
    return SimpleNamespace(engine=SimpleNamespace(dialect=SimpleNamespace(name="sqlite")))


async def test_one_round_at_start_then_one_per_interval() -> None:
    job = Counting()
    assert await job.run_once(platform()) == 1
    await job.start(platform())
    assert job.rounds == 2  # start-up's round ran before start returned
    await asyncio.wait_for(job.done.wait(), timeout=30)
    await job.stop(platform())
    stopped_at = job.rounds
    await asyncio.sleep(0.01)
    assert job.rounds == stopped_at


async def test_a_failing_round_does_not_stop_the_job() -> None:
    job = Counting(fail_first=2)
    await job.start(platform())
    await asyncio.wait_for(job.done.wait(), timeout=30)
    await job.stop(platform())
    assert job.rounds >= 5

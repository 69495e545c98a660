"""The readiness rule of the outbox relay: stuck (failing, or one round hung) for longer than
a minute with rows waiting makes the service unready; a relay that is idle, or that fails
only briefly, is ready. The clock is the test's: nobody waits a minute."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry.trace import NoOpTracer
from sqlalchemy import MetaData

from mash_tools.testing import eventually
from shared.metrics import Metrics
from shared.outbox import STUCK_AFTER, OutboxRelay
from shared.tables import message_tables


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Scripted(OutboxRelay):
    """A relay whose rounds do what the test says: `fail` raises, `hang` waits for `go`."""

    def __init__(self, clock: Clock) -> None:
        tables = message_tables(MetaData())
        super().__init__(
            tables,
            None,  # type: ignore[arg-type]  # no database: the rounds are scripted
            None,  # type: ignore[arg-type]
            Metrics("test"),
            NoOpTracer(),
            poll_seconds=0.01,
            clock=clock,
        )
        self.mode = "idle"
        self.go = asyncio.Event()
        self.rounds = 0

    async def publish_pending(self) -> int:
        self.rounds += 1
        if self.mode == "fail":
            raise RuntimeError("the database or the broker, again")
        if self.mode == "hang":
            await self.go.wait()
        return 0

    async def purge(self, now: Any, batch: int = 5000) -> int:
        return 0

    async def measure_backlog(self) -> int:
        return 1


async def rounds_passed(relay: Scripted, n: int = 2) -> None:
    target = relay.rounds + n
    await eventually(lambda: relay.rounds >= target)


async def test_an_idle_relay_is_never_stuck() -> None:
    clock = Clock()
    relay = Scripted(clock)
    relay.start()
    try:
        await rounds_passed(relay)
        clock.now += 10 * STUCK_AFTER
        await rounds_passed(relay)
        assert not relay.stuck()
    finally:
        await relay.stop()


async def test_a_relay_failing_for_over_a_minute_is_stuck_until_a_round_passes() -> None:
    clock = Clock()
    relay = Scripted(clock)
    relay.mode = "fail"
    relay.start()
    try:
        await rounds_passed(relay, 1)
        clock.now += STUCK_AFTER - 1
        assert not relay.stuck()  # a short outage: still ready
        clock.now += 2
        assert relay.stuck()
        relay.mode = "idle"
        await rounds_passed(relay, 1)
        await eventually(lambda: not relay.stuck())
    finally:
        await relay.stop()


async def test_a_round_hung_for_over_a_minute_is_stuck() -> None:
    clock = Clock()
    relay = Scripted(clock)
    relay.mode = "hang"
    relay.start()
    try:
        await rounds_passed(relay, 1)
        clock.now += STUCK_AFTER + 1
        assert relay.stuck()
        relay.mode = "idle"
        relay.go.set()
        await rounds_passed(relay, 1)
        assert not relay.stuck()
    finally:
        await relay.stop()

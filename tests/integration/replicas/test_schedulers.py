"""The schedulers are done once across replicas (PostgreSQL advisory locks, `shared.once`):
two replicas of marac, and of perpetrators, share one database; while one replica is in
the middle of the job, the other's round finds it taken and does nothing; once it is
done, the job is free again. No broker: the jobs only write to the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

import marac.app
import perpetrators.app
from marac import store as marac_store
from marac.config import ScheduledMeetings
from marac.jobs import ScheduleKeeper
from mash_tools.testing import create_database, eventually
from perpetrators import handlers as perpetrator_handlers
from perpetrators import store as perpetrator_store
from perpetrators.jobs import DailyRescore
from shared.db import lock_key
from shared.envelope import CloudEvent
from shared.service import Platform
from shared.topics import PERPETRATORS
from tests.integration.marac.kit import marac_settings, new_area
from tests.integration.perpetrators.kit import decision, perpetrator_settings, person
from tests.integration.perpetrators.kit import new_area as perpetrator_area

pytestmark = [pytest.mark.postgres]
NOW = datetime.now(UTC)


async def holder_of(platform: Platform[Any], job: str) -> bool:
    """Whether some session holds the job's advisory lock now."""
    key = lock_key(job)
    stmt = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND ((classid::bigint << 32) | objid::bigint) = :key"
    )
    async with platform.engine.connect() as conn:
        return bool((await conn.execute(stmt, {"key": key})).scalar_one())


@pytest.fixture
async def marac_pair(postgres_server: str) -> AsyncIterator[list[Platform[Any]]]:
    url = await create_database(postgres_server)
    area = new_area()
    schedule = [ScheduledMeetings(area=area, weekday="tuesday", every_weeks=1, capacity=4)]
    platforms = [
        Platform(
            "marac",
            marac_settings("127.0.0.1:1", url, "unused", schedule=schedule),
            marac_store.messages,
            marac.app.MIGRATIONS,
        )
        for _ in range(2)
    ]
    for platform in platforms:
        await platform.start_storage()
    yield platforms
    for platform in platforms:
        await platform.stop()


async def test_marac_schedule_is_kept_by_one_replica_at_a_time(
    marac_pair: list[Platform[Any]],
) -> None:
    first, second = marac_pair
    keepers = [ScheduleKeeper(3600), ScheduleKeeper(3600)]
    # hold the first replica inside its round: its meetings wait for this table lock
    async with first.engine.connect() as blocker:
        await blocker.execute(text("LOCK TABLE meetings IN EXCLUSIVE MODE"))
        running = asyncio.create_task(keepers[0].run_once(first))
        await eventually(lambda: holder_of(second, "marac.schedule"))
        assert await keepers[1].run_once(second) is None  # taken: this round is the other's
        await blocker.rollback()
    created = await running
    assert created is not None
    assert created > 0
    async with second.sessions() as session:
        meetings = (
            await session.execute(select(func.count()).select_from(marac_store.meetings))
        ).scalar_one()
    assert meetings == created
    # the job is free again: the next round is done by whoever comes, and creates nothing new
    assert await keepers[1].run_once(second) == 0
    assert not await holder_of(second, "marac.schedule")


@pytest.fixture
async def perpetrator_pair(postgres_server: str) -> AsyncIterator[list[Platform[Any]]]:
    url = await create_database(postgres_server)
    platforms = [
        Platform(
            "perpetrators",
            perpetrator_settings("127.0.0.1:1", url, "unused"),
            perpetrator_store.messages,
            perpetrators.app.MIGRATIONS,
        )
        for _ in range(2)
    ]
    for platform in platforms:
        await platform.start_storage()
    yield platforms
    for platform in platforms:
        await platform.stop()


async def test_perpetrators_rescore_is_done_by_one_replica_at_a_time(
    perpetrator_pair: list[Platform[Any]],
) -> None:
    first, second = perpetrator_pair
    area, suspect = perpetrator_area(), person("suspect", 1)
    for n in range(3):
        data = decision(
            area,
            suspect,
            person("victim", n),
            reported_at=NOW - timedelta(days=n + 1),
            risk_level="high",
        )
        async with first.uow() as session:
            await perpetrator_handlers.on_triage_decided(first, session, data, _event(), NOW)
    later = NOW + timedelta(days=120)  # recency has decayed: the re-score releases them
    rescores = [DailyRescore(3600, lambda: later), DailyRescore(3600, lambda: later)]
    async with first.engine.connect() as blocker:
        await blocker.execute(text("LOCK TABLE perpetrators IN EXCLUSIVE MODE"))
        running = asyncio.create_task(rescores[0].run_once(first))
        await eventually(lambda: holder_of(second, "perpetrators.rescore"))
        assert await rescores[1].run_once(second) is None
        await blocker.rollback()
    assert await running == 1
    assert await rescores[1].run_once(second) == 0  # free again, and already done
    outbox = perpetrator_store.messages.outbox
    async with second.sessions() as session:
        stmt = select(func.count()).where(outbox.c.topic == PERPETRATORS)
        staged = (await session.execute(stmt)).scalar_one()
    assert staged == 2  # prioritised once, released once


def _event() -> CloudEvent:
    return CloudEvent(str(uuid.uuid4()), "/mash/triage", "mash.triage.decided", "x", {})

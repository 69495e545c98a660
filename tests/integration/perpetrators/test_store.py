"""Perpetrators' handlers against each real database (SQLite and PostgreSQL), without
Kafka: who is the same perpetrator, out-of-order decisions, and the daily re-score."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from mash_tools.testing import create_database, eventually, hub_settings, waits_on_a_lock
from perpetrators import handlers, repository, store
from perpetrators.app import MIGRATIONS
from perpetrators.config import Settings
from perpetrators.consumer import consumers
from shared.schemas import TriageDecided
from shared.service import Platform
from shared.topics import PERPETRATORS
from tests.integration.perpetrators.kit import Clock, decision, event_of, new_area, person

pytestmark = pytest.mark.postgres


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform[Settings]]:
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:9"))
    found = Platform("perpetrators", settings, store.messages, MIGRATIONS)
    await found.start_storage()
    try:
        yield found
    finally:
        await found.engine.dispose()


async def consume(platform: Platform[Settings], clock: Clock, *decisions: TriageDecided) -> None:
    """What the consumer loop does with each decision: the handler in one transaction."""
    handle = consumers(platform, clock)[0].handler
    for data in decisions:
        async with platform.uow() as session:
            await handle(session, event_of(data))


async def everyone(platform: Platform[Settings], area: str) -> list[Any]:
    async with platform.sessions() as session:
        return await repository.in_area(session, area, priority_only=False)


async def count(platform: Platform[Settings], table: Any) -> int:
    async with platform.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_the_same_person_by_id_or_by_names_and_birth_is_one_perpetrator(
    platform: Platform[Settings],
) -> None:
    clock, area = Clock(), new_area()
    suspect = person("suspect", 0)
    renamed = {**suspect, "given_name": "Otherspelling"}  # the same person id
    without_id = {k: v for k, v in suspect.items() if k != "person_id"}
    at = clock.now - timedelta(days=3)
    await consume(
        platform,
        clock,
        *(
            decision(area, s, person("victim", n), reported_at=at + timedelta(hours=n))
            for n, s in enumerate((suspect, renamed, without_id), start=1)
        ),
    )
    [only] = await everyone(platform, area)
    assert only.score.incidents_24m == 3
    assert only.person.given_name == suspect["given_name"]  # the latest incident's record


async def test_two_person_ids_are_two_perpetrators_even_with_the_same_names_and_birth(
    platform: Platform[Settings],
) -> None:
    clock, area = Clock(), new_area()
    first = person("suspect", 0)
    second = {**first, "person_id": first["person_id"] + "X"}
    at = clock.now - timedelta(days=1)
    await consume(
        platform,
        clock,
        decision(area, first, person("victim", 1), reported_at=at),
        decision(area, second, person("victim", 2), reported_at=at),
    )
    assert [p.score.incidents_24m for p in await everyone(platform, area)] == [1, 1]


async def test_an_older_decision_arriving_late_does_not_undo_a_newer_one(
    platform: Platform[Settings],
) -> None:
    clock, area = Clock(), new_area()
    suspect, victim = person("suspect", 0), person("victim", 1)
    reported = clock.now - timedelta(days=1)
    first = decision(area, suspect, victim, reported_at=reported, risk_level="standard")
    regrade = decision(
        area,
        suspect,
        victim,
        reported_at=reported,
        risk_level="high",
        incident_id=first.incident_id,
        decided_at=first.decided_at + timedelta(hours=2),
    )
    await consume(platform, clock, regrade, first)
    [only] = await everyone(platform, area)
    assert only.score.components.gravity == 3
    assert only.score.incidents_24m == 1


async def test_the_daily_rescore_is_deterministic_and_announces_each_change_once(
    platform: Platform[Settings],
) -> None:
    clock, area = Clock(), new_area()
    suspect, victim = person("suspect", 0), person("victim", 1)
    await consume(
        platform,
        clock,
        *(
            decision(
                area, suspect, victim, reported_at=clock.now - timedelta(hours=n), risk_level="high"
            )
            for n in (3, 2, 1)
        ),
    )
    [entered] = await everyone(platform, area)
    assert entered.priority
    history = await count(platform, store.score_history)
    events = await count(platform, store.messages.outbox)

    assert await handlers.rescore_all(platform, clock.now) == 0  # the same clock: no change
    assert await handlers.rescore_all(platform, clock.now) == 0
    assert await count(platform, store.score_history) == history
    assert await count(platform, store.messages.outbox) == events
    [again] = await everyone(platform, area)
    assert again.score == entered.score

    later = clock.now + timedelta(days=31)
    assert await handlers.rescore_all(platform, later) == 1
    assert await handlers.rescore_all(platform, later) == 0
    [left] = await everyone(platform, area)
    assert (left.priority, left.score.score, left.score.scored_at) == (False, 48, later)
    async with platform.sessions() as session:
        rows = (
            await session.execute(
                select(store.messages.outbox).where(store.messages.outbox.c.topic == PERPETRATORS)
            )
        ).all()
    assert [(r.headers["ce_type"], r.key) for r in rows] == [
        ("mash.perpetrator.prioritised", left.perpetrator_id),
        ("mash.perpetrator.released", left.perpetrator_id),
    ]


async def test_one_suspect_decided_at_once_with_and_without_a_person_id_is_one_perpetrator(
    postgres_server: str,
) -> None:
    """One suspect's incidents against two victims travel under two Kafka keys, so two
    replicas may take them at the same moment: the second must wait and find the first
    one's perpetrator (PostgreSQL; on SQLite one writer at a time goes in anyway)."""
    url = await create_database(postgres_server)
    settings = Settings(database_url=url, hub=hub_settings("127.0.0.1:9"))
    platform = Platform("perpetrators", settings, store.messages, MIGRATIONS)
    await platform.start_storage()
    clock, area = Clock(), new_area()
    suspect = person("suspect", 0)
    without_id = {k: v for k, v in suspect.items() if k != "person_id"}
    at = clock.now - timedelta(days=2)
    first, second = (
        decision(area, s, person("victim", n), reported_at=at + timedelta(hours=n))
        for n, s in enumerate((without_id, suspect), start=1)
    )
    handle = consumers(platform, clock)[0].handler

    async def consume_alone(data: TriageDecided) -> None:
        async with platform.uow() as session:
            await handle(session, event_of(data))

    try:
        async with platform.uow() as session:
            await handle(session, event_of(first))
            later = asyncio.create_task(consume_alone(second))
            await eventually(lambda: waits_on_a_lock(platform.engine))
        await later
        [only] = await everyone(platform, area)
        assert only.score.incidents_24m == 2
    finally:
        await platform.engine.dispose()

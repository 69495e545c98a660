"""Concurrent writers never put a meeting over capacity nor a victim twice on one meeting,
and the database itself refuses both (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

import marac.app
from marac import handlers, repository, store
from marac.config import Settings
from marac.domain.listing import Meeting
from mash_tools.testing import create_database, eventually, waits_on_a_lock
from shared.identity import identify
from shared.schemas import Person, TriageDecided
from shared.service import Platform
from tests.integration.marac.kit import decision, event_of, marac_settings, new_area, victim

NOW = datetime.now(UTC)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform[Settings]]:
    """Marac's storage alone: these tests write through the handlers, no broker involved."""
    settings = marac_settings("127.0.0.1:1", database_url, "unused")
    platform = Platform("marac", settings, store.messages, marac.app.MIGRATIONS)
    await platform.start_storage()
    yield platform
    await platform.stop()


async def decide(platform: Platform[Settings], data: TriageDecided) -> None:
    """What the consumer loop does with one decision: its own transaction."""
    async with platform.uow() as session:
        await handlers.on_triage_decided(platform, session, data, event_of(data), NOW)


async def add_meeting(platform: Platform[Settings], area: str, days: int, capacity: int) -> Meeting:
    meeting = Meeting(str(uuid.uuid4()), area, NOW.date() + timedelta(days=days), capacity, 0)
    async with platform.uow() as session:
        assert await repository.add_meeting(session, meeting, "test", NOW)
    return meeting


async def counts(platform: Platform[Settings], meeting: Meeting) -> tuple[int, int]:
    """The meeting's `listed` and the cases actually on it."""
    async with platform.sessions() as session:
        found = await repository.find_meeting(session, meeting.meeting_id)
        cases = await repository.cases_on(session, meeting.meeting_id)
    assert found is not None
    return found.listed, len(cases)


async def test_concurrent_decisions_never_exceed_capacity(platform: Platform[Settings]) -> None:
    area = new_area()
    first = await add_meeting(platform, area, 7, capacity=4)
    second = await add_meeting(platform, area, 14, capacity=3)
    await asyncio.gather(*(decide(platform, decision(area, victim(n))) for n in range(10)))

    assert await counts(platform, first) == (4, 4)
    assert await counts(platform, second) == (3, 3)
    async with platform.sessions() as session:
        waiting = await repository.find_cases(session, area, "awaiting_meeting")
    assert len(waiting) == 3


async def test_concurrent_decisions_about_one_victim_make_one_case(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    first = await add_meeting(platform, area, 7, capacity=16)
    person = victim(1)
    decisions = [decision(area, person, dash_score=14 + n) for n in range(6)]
    await asyncio.gather(*(decide(platform, d) for d in decisions))

    assert await counts(platform, first) == (1, 1)
    async with platform.sessions() as session:
        [case] = await repository.cases_on(session, first.meeting_id)
    assert {f.incident_id for f in case.incidents} == {str(d.incident_id) for d in decisions}


async def test_concurrent_waiting_decisions_about_one_victim_make_one_case(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    person = victim(2)
    await asyncio.gather(*(decide(platform, decision(area, person)) for _ in range(5)))
    async with platform.sessions() as session:
        [case] = await repository.find_cases(session, area, None)
    assert case.status == "awaiting_meeting"
    assert len(case.incidents) == 5


async def test_a_new_meeting_and_new_decisions_at_once_stay_within_capacity(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    for n in range(5):
        await decide(platform, decision(area, victim(n)))
    day = NOW.date() + timedelta(days=9)
    create = handlers.create_meeting(platform, area, day, 3, NOW)
    more = [decide(platform, decision(area, victim(10 + n))) for n in range(4)]
    created, *_ = await asyncio.gather(create, *more)
    assert isinstance(created, Meeting)

    assert await counts(platform, created) == (3, 3)
    async with platform.sessions() as session:
        waiting = await repository.find_cases(session, area, "awaiting_meeting")
    assert len(waiting) == 6


async def test_the_database_refuses_a_victim_twice_on_one_meeting(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    first = await add_meeting(platform, area, 7, capacity=16)
    await decide(platform, decision(area, victim(1)))
    async with platform.sessions() as session:
        [case] = await repository.cases_on(session, first.meeting_id)
    twin = type(case)(**{**case.__dict__, "case_id": str(uuid.uuid4())})
    with pytest.raises(IntegrityError):
        async with platform.uow() as session:
            await repository.insert_case(session, twin, "key")


async def test_the_database_refuses_a_victim_waiting_twice(platform: Platform[Settings]) -> None:
    area = new_area()
    await decide(platform, decision(area, victim(1)))
    async with platform.sessions() as session:
        [case] = await repository.find_cases(session, area, "awaiting_meeting")
    twin = type(case)(**{**case.__dict__, "case_id": str(uuid.uuid4())})
    with pytest.raises(IntegrityError):
        async with platform.uow() as session:
            await repository.insert_case(session, twin, "key")


async def test_the_database_refuses_a_meeting_over_capacity(platform: Platform[Settings]) -> None:
    meeting = await add_meeting(platform, new_area(), 7, capacity=2)
    with pytest.raises(IntegrityError):
        async with platform.uow() as session:
            await session.execute(
                update(store.meetings)
                .where(store.meetings.c.meeting_id == meeting.meeting_id)
                .values(listed=3)
            )
    async with platform.uow() as session:
        assert await repository.take_place(session, meeting.meeting_id)
        assert await repository.take_place(session, meeting.meeting_id)
        assert not await repository.take_place(session, meeting.meeting_id)
    assert await counts(platform, meeting) == (2, 0)


async def test_a_meeting_is_recorded_once_per_area_and_date(platform: Platform[Settings]) -> None:
    meeting = await add_meeting(platform, new_area(), 7, capacity=2)
    twin = Meeting(str(uuid.uuid4()), meeting.area, meeting.date, 5, 0)
    async with platform.uow() as session:
        assert not await repository.add_meeting(session, twin, "test", NOW)
        total = await session.execute(
            select(func.count())
            .select_from(store.meetings)
            .where(store.meetings.c.area == meeting.area)
        )
    assert total.scalar_one() == 1


async def test_concurrent_decisions_about_a_known_victim_make_one_new_case(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    person = victim(3)
    then = NOW - timedelta(days=40)
    held = Meeting(str(uuid.uuid4()), area, then.date() + timedelta(days=7), 16, 0)
    async with platform.uow() as session:
        assert await repository.add_meeting(session, held, "test", then)
        past = decision(area, person, decided_at=then)
        await handlers.on_triage_decided(platform, session, past, event_of(past), then)
    upcoming = await add_meeting(platform, area, 7, capacity=16)
    decisions = [decision(area, person, dash_score=14 + n) for n in range(6)]
    await asyncio.gather(*(decide(platform, d) for d in decisions))

    assert await counts(platform, held) == (1, 1)
    assert await counts(platform, upcoming) == (1, 1)
    async with platform.sessions() as session:
        [case] = await repository.cases_on(session, upcoming.meeting_id)
    assert case.repeat is True
    assert {f.incident_id for f in case.incidents} == {str(d.incident_id) for d in decisions}


@pytest.mark.postgres
async def test_one_victim_resolved_at_once_under_two_keys_gets_one_reference(
    postgres_server: str,
) -> None:
    """A victim reported without a person id (one identity key) and with one (two keys)
    travels under two Kafka keys, so two replicas may resolve them at the same moment: the
    one with both keys must wait and take the reference the other made, not make its own
    (which listed the victim twice, as two cases, in a CI run)."""
    settings = marac_settings("127.0.0.1:1", await create_database(postgres_server), "unused")
    platform = Platform("marac", settings, store.messages, marac.app.MIGRATIONS)
    await platform.start_storage()
    secret = settings.hub.pseudonym_key
    with_id = Person.model_validate(victim(1))
    without_id = with_id.model_copy(update={"person_id": None})
    id_key, name_key = identify(secret, with_id).hashes

    async def resolve(person: Person) -> str:
        async with platform.uow() as session:
            return await handlers.resolve_victim(session, secret, person, "unused", NOW)

    try:
        async with platform.uow() as first:
            made = await handlers.resolve_victim(first, secret, without_id, "unused", NOW)
            second = asyncio.create_task(resolve(with_id))
            await eventually(lambda: waits_on_a_lock(platform.engine))
        assert await second == made
        async with platform.sessions() as session:
            rows = (await session.execute(select(store.identities))).all()
        assert {row.identity: row.victim_ref for row in rows} == {name_key: made, id_key: made}
    finally:
        await platform.stop()

"""The standing schedule: meetings created ahead at start-up, once each, and waiting
cases listed as soon as the schedule makes room for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

import marac.app
from marac import handlers, repository, store
from marac.config import ScheduledMeetings, Settings
from mash_tools.testing import bearer, running
from shared.service import Platform
from tests.integration.marac.kit import READ, decision, event_of, marac_settings, new_area, victim

NOW = datetime.now(UTC)


@pytest.mark.kafka
async def test_the_schedule_creates_the_coming_meetings_at_start_up(
    kafka_bootstrap: str, database_url: str, group: str
) -> None:
    area = new_area()
    schedule = [ScheduledMeetings(area=area, weekday="wednesday", every_weeks=1, capacity=12)]
    settings = marac_settings(
        kafka_bootstrap, database_url, group, schedule=schedule, schedule_weeks_ahead=3
    )
    async with running(marac.app.create_app(settings)) as client:
        answer = await client.get("/v1/meetings", params={"area": area}, headers=bearer(*READ))
    meetings = answer.json()
    dates = [date.fromisoformat(m["date"]) for m in meetings]
    assert len(dates) in (3, 4)  # three weeks ahead: 3 Wednesdays, or 4 when today is one
    assert all(d.weekday() == 2 for d in dates)
    assert all(m["capacity"] == 12 and m["listed"] == 0 for m in meetings)
    assert dates == sorted(dates)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform[Settings]]:
    settings = marac_settings("127.0.0.1:1", database_url, "unused", schedule_weeks_ahead=4)
    platform = Platform("marac", settings, store.messages, marac.app.MIGRATIONS)
    await platform.start_storage()
    yield platform
    await platform.stop()


async def test_keeping_the_schedule_twice_creates_each_meeting_once(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    settings = platform.settings
    settings.schedule = [ScheduledMeetings(area=area, weekday="monday", every_weeks=2)]
    created = await handlers.keep_schedule(platform, NOW)
    assert created in (2, 3)
    assert await handlers.keep_schedule(platform, NOW + timedelta(hours=1)) == 0
    assert await handlers.keep_schedule(platform, NOW + timedelta(days=14)) == 1
    async with platform.sessions() as session:
        meetings = await repository.meetings_of(session, area)
    assert len(meetings) == created + 1
    assert len({m.date for m in meetings}) == len(meetings)


async def test_a_waiting_case_is_listed_when_the_schedule_makes_room(
    platform: Platform[Settings],
) -> None:
    area = new_area()
    data = decision(area, victim(1))
    async with platform.uow() as session:
        await handlers.on_triage_decided(platform, session, data, event_of(data), NOW)
    async with platform.sessions() as session:
        [waiting] = await repository.find_cases(session, area, "awaiting_meeting")
    settings = platform.settings
    settings.schedule = [ScheduledMeetings(area=area, weekday="friday", every_weeks=1)]
    await handlers.keep_schedule(platform, NOW)

    async with platform.sessions() as session:
        [case] = await repository.find_cases(session, area, None)
        meeting = await repository.find_meeting(session, case.meeting_id or "")
    assert case.case_id == waiting.case_id
    assert case.status == "listed"
    assert meeting is not None
    earliest = handlers.local_date(NOW, settings) + timedelta(days=5)
    assert earliest <= meeting.date < earliest + timedelta(days=7)  # the first Friday after
    assert meeting.listed == 1

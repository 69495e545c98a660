"""The referral ledger on SQLite and PostgreSQL: one referral per incident, agency and
subject; leases that only one worker wins; due deliveries; timestamps kept as instants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from notify import repository, store
from notify.app import MIGRATIONS
from notify.config import Settings
from shared.db import utc
from shared.service import Platform
from shared.testing import platform_settings

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
Ledger = Platform[Settings]


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Ledger]:
    settings = Settings(database_url=database_url, platform=platform_settings("127.0.0.1:1"))
    found = Platform("notify", settings, store.platform, MIGRATIONS)
    await found.start_storage()
    yield found
    await found.engine.dispose()


async def add_referral(
    platform: Ledger,
    incident_id: str,
    agency: str = "idva",
    subject: str = "victim",
    due_at: datetime | None = NOW,
) -> str:
    referral_id = str(uuid.uuid4())
    async with platform.uow() as session:
        await session.execute(
            insert(store.referrals).values(
                referral_id=referral_id,
                incident_id=incident_id,
                agency=agency,
                subject=subject,
                reason="high_risk",
                risk_level="high",
                decision_id=str(uuid.uuid4()),
                victim_key="k",
                data={"safe_to_contact": False},
                created_at=NOW,
            )
        )
        await session.execute(
            insert(store.deliveries).values(
                referral_id=referral_id,
                agency=agency,
                channel="webhook",
                status="pending",
                attempts=0,
                deliver_after=utc(due_at or NOW),
                due_at=utc(due_at) if due_at else None,
                version=0,
                trace={},
            )
        )
    return referral_id


async def subscribe(platform: Ledger, agency: str) -> None:
    async with platform.uow() as session:
        await session.execute(
            insert(store.subscriptions).values(
                agency=agency, webhook_url="http://127.0.0.1:9/", secret="s", updated_at=NOW
            )
        )


async def test_one_referral_per_incident_agency_and_subject(platform: Ledger) -> None:
    incident_id = str(uuid.uuid4())
    await add_referral(platform, incident_id, "school", "child:0")
    await add_referral(platform, incident_id, "school", "child:1")
    await add_referral(platform, incident_id, "idva", "victim")
    with pytest.raises(IntegrityError):
        await add_referral(platform, incident_id, "school", "child:0")
    async with platform.sessions() as session:
        made = await repository.made_for(session, incident_id)
    assert made == {("school", "child:0"), ("school", "child:1"), ("idva", "victim")}


async def test_only_one_lease_of_a_delivery_wins(platform: Ledger) -> None:
    referral_id = await add_referral(platform, str(uuid.uuid4()))
    async with platform.uow() as session:
        first = await repository.lease(session, referral_id, 0, NOW + timedelta(seconds=15))
    async with platform.uow() as session:
        second = await repository.lease(session, referral_id, 0, NOW + timedelta(seconds=15))
    assert (first, second) == (True, False)


async def test_due_deliveries_wait_for_their_time_and_a_subscription(
    platform: Ledger,
) -> None:
    later = NOW + timedelta(hours=10)
    soon = await add_referral(platform, str(uuid.uuid4()), "school", "child:0", NOW)
    await add_referral(platform, str(uuid.uuid4()), "school", "child:0", later)
    async with platform.sessions() as session:
        assert await repository.next_due(session, "school", NOW) is None  # no subscription yet
    await subscribe(platform, "school")
    async with platform.sessions() as session:
        due = await repository.next_due(session, "school", NOW)
        assert due is not None
        assert due.referral_id == soon
        assert await repository.next_due(session, "idva", NOW) is None
        assert await repository.next_due(session, "school", NOW - timedelta(seconds=1)) is None
        earliest = await repository.earliest_due(session, "school")
    assert earliest is not None
    assert utc(earliest) == NOW


async def test_local_times_are_stored_as_the_same_instant(platform: Ledger) -> None:
    release = datetime(2026, 7, 2, 7, 0, tzinfo=ZoneInfo("Europe/London"))  # 06:00 UTC
    referral_id = await add_referral(platform, str(uuid.uuid4()), "school", "child:0", release)
    async with platform.sessions() as session:
        row = await repository.record(session, referral_id)
    assert row is not None
    assert utc(row.deliver_after) == datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


async def test_the_first_acknowledgement_counts(platform: Ledger) -> None:
    referral_id = await add_referral(platform, str(uuid.uuid4()))
    async with platform.uow() as session:
        await repository.acknowledge(session, referral_id, NOW)
    async with platform.uow() as session:
        await repository.acknowledge(session, referral_id, NOW + timedelta(hours=1))
    async with platform.sessions() as session:
        row = await repository.record(session, referral_id)
    assert row is not None
    assert row.acknowledged_at is not None
    assert utc(row.acknowledged_at) == NOW

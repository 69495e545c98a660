"""The referral ledger on SQLite and PostgreSQL: one referral per incident, agency and
subject; leases that only one worker wins; due deliveries pinned to their subscription,
cancelled and queued again; attempts in flight; overdue clocks; timestamps kept as
instants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from mash_tools.testing import hub_settings
from notify import repository, store
from notify.app import MIGRATIONS
from notify.config import Settings
from shared.db import utc
from shared.service import Platform

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
Ledger = Platform[Settings]


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Ledger]:
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:1"))
    found = Platform("notify", settings, store.messages, MIGRATIONS)
    await found.start_storage()
    yield found
    await found.engine.dispose()


async def add_referral(
    platform: Ledger,
    incident_id: str,
    agency: str = "idva",
    subject: str = "victim",
    due_at: datetime | None = NOW,
    url: str = "http://127.0.0.1:9/pinned",
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
                due_by=NOW + timedelta(hours=24),
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
                webhook_url=url,
                secret="sealed-" + url,
            )
        )
    return referral_id


async def subscribe(platform: Ledger, agency: str, url: str = "http://127.0.0.1:9/") -> None:
    async with platform.uow() as session:
        await repository.subscribe(session, agency, url, "sealed-" + url, NOW)


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


async def test_due_deliveries_wait_for_their_time(platform: Ledger) -> None:
    later = NOW + timedelta(hours=10)
    soon = await add_referral(platform, str(uuid.uuid4()), "school", "child:0", NOW)
    await add_referral(platform, str(uuid.uuid4()), "school", "child:0", later)
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


async def test_a_delivery_keeps_the_subscription_it_was_made_under(platform: Ledger) -> None:
    """Issue 10, item 4: a PUT after the referral does not redirect its delivery."""
    referral_id = await add_referral(platform, str(uuid.uuid4()), "victim-support", url="http://a/")
    await subscribe(platform, "victim-support", "http://b/")
    async with platform.sessions() as session:
        due = await repository.next_due(session, "victim-support", NOW)
    assert due is not None
    assert due.referral_id == referral_id
    assert (due.webhook_url, due.sealed_secret) == ("http://a/", "sealed-http://a/")


async def test_deleting_a_subscription_cancels_its_waiting_deliveries(platform: Ledger) -> None:
    waiting = await add_referral(platform, str(uuid.uuid4()), "childrens-social-care")
    await subscribe(platform, "childrens-social-care")
    async with platform.uow() as session:
        assert await repository.unsubscribe(session, "childrens-social-care")
    async with platform.sessions() as session:
        assert await repository.next_due(session, "childrens-social-care", NOW) is None
        entry = await repository.record(session, waiting)
    assert entry is not None
    assert entry.status == "cancelled"


async def test_a_requeued_delivery_goes_to_the_current_subscription_afresh(
    platform: Ledger,
) -> None:
    referral_id = await add_referral(platform, str(uuid.uuid4()), "safeguarding-team")
    async with platform.uow() as session:
        await session.execute(
            store.deliveries.update()
            .where(store.deliveries.c.referral_id == referral_id)
            .values(status="dead", attempts=13, due_at=None)
        )
        current = repository.Webhook("http://current/", "sealed-current")
        assert await repository.requeue(session, referral_id, current, NOW)
    async with platform.sessions() as session:
        due = await repository.next_due(session, "safeguarding-team", NOW)
        dead = await repository.dead_since(session, "safeguarding-team", NOW)
    assert due is not None
    assert (due.webhook_url, due.attempts, due.round_start) == ("http://current/", 13, 13)
    assert referral_id not in dead


async def test_an_attempt_in_flight_is_recorded_before_and_closed_as_unknown_after_a_crash(
    platform: Ledger,
) -> None:
    """Issue 10, item 6: the attempt is committed as in flight before its POST; a crash
    before its answer is recorded leaves it, and the next attempt records it `unknown`."""
    referral_id = await add_referral(platform, str(uuid.uuid4()))
    async with platform.uow() as session:
        assert await repository.lease(session, referral_id, 0, NOW + timedelta(seconds=15))
        await repository.start_attempt(session, referral_id, 1, NOW)
    # ... the POST, then the process dies; later, the lease has run out:
    async with platform.uow() as session:
        made = await repository.close_interrupted(session, referral_id, NOW + timedelta(1))
    async with platform.sessions() as session:
        rows = (
            await session.execute(
                store.attempts.select().where(store.attempts.c.referral_id == referral_id)
            )
        ).all()
    assert made == 1
    assert [(r.attempt, r.verdict) for r in rows] == [(1, "unknown")]


async def test_an_unacknowledged_referral_past_due_is_overdue_once(platform: Ledger) -> None:
    late = await add_referral(platform, str(uuid.uuid4()))
    acked = await add_referral(platform, str(uuid.uuid4()))
    async with platform.uow() as session:
        await repository.acknowledge(session, acked, NOW + timedelta(hours=1))
    after = NOW + timedelta(hours=25)
    async with platform.sessions() as session:
        assert late not in {o.referral_id for o in await repository.overdue(session, NOW)}
        found = {o.referral_id for o in await repository.overdue(session, after)}
    assert late in found
    assert acked not in found
    async with platform.uow() as session:
        assert await repository.mark_overdue(session, late, NOW + timedelta(hours=24))
    async with platform.uow() as session:
        assert not await repository.mark_overdue(session, late, NOW + timedelta(hours=24))
        assert late not in {o.referral_id for o in await repository.overdue(session, after)}

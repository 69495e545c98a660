"""The console's store on SQLite and PostgreSQL (its own migrations): a sign-in link is
used once, sessions end, the read model folds decisions and actions and counts each case,
referral and closing once, and the period's facts come back as instants of the right
area."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from console import readmodel, repository, store
from console.app import MIGRATIONS
from console.config import Settings
from console.domain.facts import (
    Closure,
    Decision,
    Listing,
    MaracAction,
    MaracReferral,
    fold,
    fold_action,
    fold_outcome,
)
from console.domain.people import new_person
from mash_tools.testing import hub_settings
from shared.service import Platform

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform[Settings]]:
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:1"))
    found = Platform("console", settings, store.messages, MIGRATIONS)
    await found.start_storage()
    yield found
    await found.engine.dispose()


async def test_a_sign_in_link_is_used_once(platform: Platform[Settings]) -> None:
    expires = NOW + timedelta(minutes=10)
    async with platform.uow() as session:
        assert await repository.use_link(session, "link-1", expires, NOW)
    async with platform.uow() as session:
        assert not await repository.use_link(session, "link-1", expires, NOW)
        assert await repository.use_link(session, "link-2", expires, NOW)


async def test_a_session_is_found_until_it_expires_or_ends(platform: Platform[Settings]) -> None:
    person = new_person(
        "coordinator", frozenset({"marac:read"}), "link", "csrf", NOW, timedelta(hours=1)
    )
    async with platform.uow() as session:
        await repository.add_session(session, "hash-1", person)
    async with platform.sessions() as session:
        found = await repository.find_session(session, "hash-1", NOW + timedelta(minutes=59))
        assert found == person
        assert await repository.find_session(session, "hash-1", NOW + timedelta(hours=1)) is None
        assert await repository.find_session(session, "other", NOW) is None
    async with platform.uow() as session:
        await repository.end_session(session, "hash-1", NOW)
    async with platform.sessions() as session:
        assert await repository.find_session(session, "hash-1", NOW) is None


async def test_the_read_model_folds_decisions_and_counts_a_case_once(
    platform: Platform[Settings],
) -> None:
    area = f"a{uuid.uuid4().hex[:8]}"
    first = Decision(
        "i-1",
        area,
        NOW,
        NOW,
        "medium",
        "dash_score",
        11,
        frozenset({"repeat_victim"}),
        1,
        frozenset({"safeguarding-team/victim"}),
    )
    regrade = Decision(
        "i-1",
        area,
        NOW,
        NOW + timedelta(hours=1),
        "high",
        "regrade",
        11,
        frozenset(),
        1,
        frozenset({"idva/victim"}),
    )
    for decision in (first, regrade):
        async with platform.uow() as session:
            known = await readmodel.find_incident(session, "i-1")
            await readmodel.save_incident(session, fold(known, decision))
    listing = Listing("case-1", "m-1", area, date(2026, 12, 1), True, NOW)
    late = fold_outcome(None, "acknowledged", "r-1", "idva", "i-1", NOW, NOW - timedelta(hours=1))
    referral = MaracReferral("mr-1", "case-1", area, "health", NOW)
    closure = Closure("case-1", "m-1", area, NOW.date(), frozenset({"health", "police"}), NOW)
    agreed = MaracAction("a-1", "case-1", area, "housing", NOW.date())
    async with platform.uow() as session:
        await readmodel.save_listing(session, listing)
        await readmodel.save_listing(session, listing)
        await readmodel.save_outcome(session, late)
        await readmodel.save_marac_referral(session, referral)
        await readmodel.save_marac_referral(session, referral)
        await readmodel.save_closure(session, closure)
        await readmodel.save_closure(session, closure)
        await readmodel.save_action(session, agreed)
    async with platform.uow() as session:
        known_action = await readmodel.find_action(session, "a-1")
        assert known_action == agreed
        await readmodel.save_action(session, fold_action(known_action, agreed, NOW))
    async with platform.sessions() as session:
        facts = await readmodel.facts_between(
            session, area, NOW - timedelta(days=1), NOW + timedelta(days=1)
        )
        elsewhere = await readmodel.facts_between(
            session, "elsewhere", NOW - timedelta(days=1), NOW + timedelta(days=1)
        )
        areas = await readmodel.areas(session)
    [incident] = facts.incidents
    assert incident.risk_level == "high"
    assert incident.regrade == "up"
    assert incident.referrals == {"safeguarding-team/victim", "idva/victim"}
    assert incident.reported_at == NOW
    assert incident.reported_at.tzinfo is not None
    assert facts.listings == [listing]
    [outcome] = facts.outcomes
    assert outcome.referral_id == "r-1"
    assert outcome.area == area
    assert outcome.overdue(NOW)
    assert facts.marac_referrals == [referral]
    assert facts.closures == [closure]
    assert facts.actions == [MaracAction("a-1", "case-1", area, "housing", NOW.date(), NOW)]
    assert [len(elsewhere.incidents), len(elsewhere.marac_referrals), len(elsewhere.actions)] == [
        0,
        0,
        0,
    ]
    assert area in areas

"""The person's own access token in the console's store, on SQLite and PostgreSQL (its
own migrations): only the session's cookie opens it, it is found until it ends, and
sign-out and the purge job forget it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from console import own_tokens, store
from console.app import MIGRATIONS
from console.config import Settings
from console.domain.people import OwnToken
from mash_tools.testing import hub_settings
from shared.service import Platform

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJkcG8ifQ.c2lnbmF0dXJl"


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform[Settings]]:
    settings = Settings(database_url=database_url, hub=hub_settings("127.0.0.1:1"))
    found = Platform("console", settings, store.messages, MIGRATIONS)
    await found.start_storage()
    yield found
    await found.engine.dispose()


async def test_only_the_sessions_cookie_opens_it_until_it_ends(
    platform: Platform[Settings],
) -> None:
    own = OwnToken(TOKEN, frozenset({"records", "triage"}), NOW + timedelta(hours=1))
    async with platform.uow() as session:
        await own_tokens.save(session, "hash-1", "cookie-1", own)
        await own_tokens.save(
            session, "hash-2", "cookie-2", OwnToken(TOKEN, frozenset({"records"}), NOW)
        )
    async with platform.sessions() as session:
        found = await own_tokens.find(session, "hash-1", "cookie-1", NOW)
        assert found == own
        assert await own_tokens.find(session, "hash-1", "cookie-2", NOW) is None
        assert await own_tokens.find(session, "hash-2", "cookie-2", NOW) is None  # over
        stored = (await session.execute(select(store.own_tokens.c.sealed))).scalars().all()
    assert len(stored) == 2
    assert not any(TOKEN in s or TOKEN.split(".")[1] in s for s in stored)
    async with platform.uow() as session:
        assert await own_tokens.purge(session, NOW) == 1  # hash-2's
    async with platform.uow() as session:
        assert await own_tokens.forget(session, "hash-1", NOW) == 1  # sign-out
    async with platform.sessions() as session:
        assert (await session.execute(select(store.own_tokens))).all() == []

"""The queries the console needs, returning domain objects (rows never leave this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from console import store
from console.domain.people import Person
from shared.db import insert, utc

# sessions and sign-in links


async def add_session(session: AsyncSession, session_hash: str, person: Person) -> None:
    await session.execute(
        store.sessions.insert().values(
            session_hash=session_hash,
            subject=person.subject,
            scopes=" ".join(sorted(person.scopes)),
            csrf_token=person.csrf_token,
            method=person.method,
            created_at=person.signed_in_at,
            expires_at=person.expires_at,
        )
    )


async def find_session(session: AsyncSession, session_hash: str, now: datetime) -> Person | None:
    row = (
        await session.execute(
            select(store.sessions).where(store.sessions.c.session_hash == session_hash)
        )
    ).one_or_none()
    if row is None or utc(row.expires_at) <= now:
        return None
    return Person(
        subject=row.subject,
        scopes=frozenset(row.scopes.split()),
        csrf_token=row.csrf_token,
        method=row.method,
        signed_in_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
    )


async def end_session(session: AsyncSession, session_hash: str, now: datetime) -> None:
    """Remove the session, and any that have expired."""
    await session.execute(
        delete(store.sessions).where(
            (store.sessions.c.session_hash == session_hash) | (store.sessions.c.expires_at <= now)
        )
    )


async def use_link(
    session: AsyncSession, link_id: str, expires_at: datetime, now: datetime
) -> bool:
    """Record a sign-in link's use: False when it was used before."""
    stmt = insert(session, store.used_links).values(
        link_id=link_id, used_at=now, expires_at=expires_at
    )
    result = await session.execute(
        stmt.on_conflict_do_nothing(index_elements=["link_id"]).returning(
            store.used_links.c.link_id
        )
    )
    return result.first() is not None


async def link_used(session: AsyncSession, link_id: str) -> bool:
    table = store.used_links
    found = await session.execute(select(table.c.link_id).where(table.c.link_id == link_id))
    return found.first() is not None


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete expired pending OpenID requests, sessions and used links (a used link's
    token has expired by then, so its record is no longer needed); how many rows."""
    removed = 0
    for table in (store.oidc_requests, store.sessions, store.used_links):
        result = await session.execute(delete(table).where(table.c.expires_at <= now))
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def add_oidc_request(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(store.oidc_requests.insert().values(**values))


async def take_oidc_request(
    session: AsyncSession, state: str, now: datetime
) -> dict[str, Any] | None:
    """The pending authorisation request with this state, removed (each is used once)."""
    table = store.oidc_requests
    row = (await session.execute(select(table).where(table.c.state == state))).one_or_none()
    await session.execute(
        delete(table).where((table.c.state == state) | (table.c.expires_at <= now))
    )
    if row is None or utc(row.expires_at) <= now:
        return None
    return dict(row._asdict())

"""A background job done by one replica at a time (PostgreSQL: a session advisory lock).

Replicas of a service share its PostgreSQL database. A job that must be done once across
them (marac's schedule keeper, perpetrators' daily re-score) runs inside `one_replica`:
the replica that gets the job's advisory lock does it; another one that tries meanwhile
is told so and skips this round. The lock belongs to a database session, so a replica
killed mid-job lets it go with its connection. On SQLite one process owns the file: the
job is always its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import lock_key

log = logging.getLogger(__name__)


@asynccontextmanager
async def one_replica(engine: AsyncEngine, job: str) -> AsyncIterator[bool]:
    """True inside the block when this replica holds `job` until the block ends; False
    when another replica is doing it right now."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = {"key": lock_key(job)}
    async with engine.connect() as conn:
        held = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key)).scalar_one()
        )
        await conn.commit()  # the lock is the session's: no transaction stays open
        try:
            yield held
        finally:
            if held:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                    await conn.commit()
                except Exception:  # noqa: BLE001 - a lost connection has let the lock go
                    log.warning("%s: unlock failed; closing the connection", job)
                    await conn.invalidate()

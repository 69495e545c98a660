"""Async SQLAlchemy: engines, sessions, the unit of work, and migrations at start-up.

Each service owns its database: a SQLite file under `.data/` by default, PostgreSQL
when `<SERVICE>_DATABASE_URL` says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for its backend (SQLite: WAL, a busy timeout, one writer at a time)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own the transaction boundaries: BEGIN IMMEDIATE takes the
            # write lock at the start, so two writers queue instead of deadlocking.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    async with sessions() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers."""
    try:
        with suppress_instrumentation():
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
        return False
    return True


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def migrate(url: str, migrations_dir: Path) -> None:
    """Bring the database to the newest revision (Alembic, this service's own scripts)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")

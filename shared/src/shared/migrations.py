"""The body of every service's Alembic `env.py`: online migrations over an async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import WRITER, create_engine, lock_key


def run(metadata: MetaData) -> None:
    """Run the pending migrations against `database_url` given by `shared.db.migrate`."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database_url for migrations")

    def do_run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # replicas start together: one migrates, the others wait and then find it done
            key = lock_key(f"migrations:{config.get_main_option('script_location')}")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_engine(str(url))
        async with engine.connect() as connection:
            await connection.execution_options(**{WRITER: True})
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    # `shared.db.migrate` runs in a worker thread (asyncio.to_thread), so no loop runs here
    asyncio.run(run_async())

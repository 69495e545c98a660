"""Every service's store commits durably (issue 26): on SQLite, WAL with
`synchronous=FULL` (each commit fsynced before the 202 or the offset commit that follows
it); on PostgreSQL, `synchronous_commit` left on. Each service's engine is the one its
app builds, migrations included."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from sqlalchemy import text

from mash_tools import testing
from shared import registry
from shared.config import ROOT
from shared.kafka_security import SERVICES
from shared.service import Platform
from tests.builders import settings_for

# every service of the hub that has code here (a new one is tested once it lands)
BUILT = [name for name in SERVICES if (ROOT / "services" / name / "src" / name).is_dir()]


def test_the_hub_s_services_are_all_here() -> None:
    assert set(registry.NAMES) <= set(BUILT)


@pytest.mark.parametrize("service", BUILT)
async def test_each_service_s_engine_commits_durably(
    service: str, database_url: str, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MASH_SQLITE_SYNCHRONOUS", raising=False)
    app_module = importlib.import_module(f"{service}.app")
    config = importlib.import_module(f"{service}.config")
    settings = settings_for(config.Settings, "127.0.0.1:1", database_url, group)
    platform: Platform[Any] = app_module.create_app(settings).state.platform
    await platform.start_storage()  # the service's migrations, then its engine; no Kafka
    try:
        async with platform.engine.connect() as conn:
            if database_url.startswith("sqlite"):
                synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
                journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
                assert (synchronous, journal) == (2, "wal")  # 2 is FULL
            else:
                found = (await conn.execute(text("SHOW synchronous_commit"))).scalar_one()
                assert found == "on"
    finally:
        await platform.stop()


async def durability_of(server_url: str) -> list[str]:
    """A PostgreSQL server's `fsync`, `synchronous_commit` and `full_page_writes`."""
    import asyncpg

    dsn = server_url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(f"{dsn}/postgres")
    try:
        names = ("fsync", "synchronous_commit", "full_page_writes")
        return [str(await conn.fetchval(f"SHOW {name}")) for name in names]
    finally:
        await conn.close()


async def test_the_project_s_postgresql_is_durable_unless_it_is_the_suite_s_own(
    postgres_server: str,
) -> None:
    """`deploy/postgres.sh` starts the bench's and `mash cluster`'s servers as PostgreSQL
    ships (fsync, synchronous commits); only the test suite's throwaway server, deleted
    with the run, skips fsync. No server of the project turns synchronous commits off."""
    with testing.postgres_server(throwaway=False) as durable:
        assert await durability_of(durable) == ["on", "on", "on"]
    assert (await durability_of(postgres_server))[1] == "on"

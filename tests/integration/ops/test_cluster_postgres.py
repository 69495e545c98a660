"""`make cluster`'s PostgreSQL on a fresh checkout: `make setup` leaves `.data/` owner-only
(it holds the bus's keys), and as root the server runs as `postgres`, who cannot enter
it. The cluster must still start its PostgreSQL, with one database per service of the
registry, without loosening `.data/` (issue 24)."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from mash_tools.cluster import Cluster
from mash_tools.testing import free_port
from shared import registry


@pytest.fixture
def fresh_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A checkout's root as a newcomer has it: an owner-only home, `.data/` at 0700
    (as the Makefile's `setup` makes it)."""
    home = tmp_path_factory.mktemp("checkout")
    home.chmod(0o700)
    data = home / ".data"
    data.mkdir()
    data.chmod(0o700)
    try:
        yield home
    finally:
        location = data / "cluster" / "postgres" / "location"
        if location.exists():  # the server's own directory, outside the checkout
            shutil.rmtree(location.read_text().strip(), ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


async def test_the_cluster_starts_postgresql_inside_an_owner_only_data_dir(
    fresh_checkout: Path,
) -> None:
    data = fresh_checkout / ".data"
    cluster = Cluster(data=data / "cluster", postgres_port=free_port(), quiet=True)
    try:
        await cluster.start_postgres()
        conn = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{cluster.postgres_port}/postgres"
        )
        try:
            names = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
            records = registry.service("records")
            login = await conn.fetchrow(
                "SELECT rolsuper, rolcanlogin, pg_has_role(rolname, $2, 'MEMBER') AS member"
                " FROM pg_roles WHERE rolname = $1",
                records.database_login,
                records.database_role,
            )
        finally:
            await conn.close()
        assert {s.database for s in registry.SERVICES} <= names
        assert "mash_records" in names
        # records logs in as a role of its own in its insert-only group, not as the owner
        assert login is not None
        assert (login["rolsuper"], login["rolcanlogin"], login["member"]) == (False, True, True)
        assert cluster.postgres_url("records").startswith(
            f"postgresql+asyncpg://{records.database_login}@"
        )
        assert "postgres@" in cluster.postgres_url("records", owner=True)
    finally:
        await cluster.stop()
    # nothing of .data was opened to other users
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE(fresh_checkout.stat().st_mode) == 0o700
    if os.geteuid() == 0:  # the server's data went where `postgres` may go, named in .data
        location = data / "cluster" / "postgres" / "location"
        real = Path(location.read_text().strip())
        assert (real / "PG_VERSION").exists()
        assert not real.is_relative_to(fresh_checkout)

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
            host="127.0.0.1",
            port=cluster.postgres_port,
            user="postgres",
            password=cluster.postgres_password(),
            database="postgres",
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
        login_password = cluster.postgres_password(records.database_login)
        assert cluster.postgres_url("records").startswith(
            f"postgresql+asyncpg://{records.database_login}:{login_password}@"
        )
        owner_url = cluster.postgres_url("records", owner=True)
        assert owner_url.startswith(f"postgresql+asyncpg://postgres:{cluster.postgres_password()}@")
        # every login asks for its password, loopback included: with it, records' own login
        # gets in (its migrations' URL, RECORDS_MIGRATIONS_DATABASE_URL, is the owner's)
        for url in (cluster.postgres_url("records"), owner_url):
            conn = await asyncpg.connect(url.replace("+asyncpg", ""))
            await conn.close()
        # and without it, neither the superuser nor the service's login gets in
        for user in ("postgres", records.database_login):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(
                    host="127.0.0.1",
                    port=cluster.postgres_port,
                    user=user,
                    password="",
                    database=records.database,
                )
        for name in ("postgres.password", f"{records.database_login}.password"):
            assert stat.S_IMODE((data / "cluster" / name).stat().st_mode) == 0o600
        # and no process's command line shows either password while the server runs
        secrets = (cluster.postgres_password().encode(), login_password.encode())
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                assert not any(s in cmdline for s in secrets), entry.name
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

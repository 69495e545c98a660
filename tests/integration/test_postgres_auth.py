"""The PostgreSQL the project starts (the suite's, the bench's, `mash cluster`'s, all by
`deploy/postgres.sh`) asks every client for its password, even on loopback: another
local account that can reach 127.0.0.1 must not get in as `postgres` (issue 20). And the
password is never on a command line, where `ps` would show it to everyone."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from mash_tools.testing import create_database, free_port, postgres_password
from shared.config import ROOT


def _parts(server_url: str) -> tuple[str, int, str, str]:
    url = make_url(server_url)
    assert url.host == "127.0.0.1"
    assert url.port
    assert url.username
    assert url.password
    return url.host, url.port, url.username, url.password


async def test_a_client_without_the_password_is_refused(postgres_server: str) -> None:
    host, port, user, password = _parts(postgres_server)
    database = make_url(await create_database(postgres_server)).database
    # with the password (the URLs mash_tools.testing hands out carry it): in
    conn = await asyncpg.connect(
        host=host, port=port, user=user, password=password, database=database
    )
    assert await conn.fetchval("SELECT current_user") == user
    await conn.close()
    # without it, or with a wrong one: refused, though the client is on loopback
    for wrong in ("", "not-the-password"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                host=host, port=port, user=user, password=wrong, database=database
            )


def test_psql_without_a_password_is_refused(postgres_server: str) -> None:
    psql = shutil.which("psql")
    if psql is None:  # Debian's client comes with the server, its bin dir not on PATH
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
        assert found, "no psql beside the server deploy/postgres.sh installed"
        psql = str(found[-1])
    host, port, user, _ = _parts(postgres_server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["HOME"] = "/nonexistent"  # no ~/.pgpass either
    done = subprocess.run(
        [psql, "-w", "-h", host, "-p", str(port), "-U", user, "-d", "postgres", "-c", "SELECT 1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no password supplied" in done.stderr or "password authentication failed" in done.stderr


def test_no_command_line_holds_the_password(postgres_server: str) -> None:
    """While the server runs (its postmaster, backends and the watchdog included), no
    process's arguments contain the superuser's password."""
    _, _, _, password = _parts(postgres_server)
    seen = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        seen += 1
        assert password.encode() not in cmdline, f"process {entry.name} shows the password"
    assert seen > 1


async def test_a_server_made_before_passwords_asks_for_one_at_its_next_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A `mash cluster` directory made when the script trusted loopback (no password file,
    `trust` in pg_hba.conf) is converted when it starts again, not left open."""
    home = tmp_path_factory.mktemp("old-pg")
    home.chmod(0o755)  # as root the server runs as `postgres`, who must reach it
    data = home / "data"
    script = str(ROOT / "deploy" / "postgres.sh")
    port = free_port()
    subprocess.run(["bash", script, "start", str(data), str(port), "throwaway"], check=True)
    try:
        subprocess.run(["bash", script, "stop", str(data)], check=True)
        # as the old script left it: trust on loopback, no password anywhere
        location = data / "location"  # as root, where `postgres` could go (postgres.sh)
        real = Path(location.read_text().strip()) if location.exists() else data
        hba = real / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        Path(f"{data}.password").unlink()
        subprocess.run(["bash", script, "start", str(data), str(port), "throwaway"], check=True)
        password = postgres_password(data)
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="postgres", password=password, database="postgres"
        )
        await conn.close()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                host="127.0.0.1", port=port, user="postgres", password="", database="postgres"
            )
        assert "trust" not in hba.read_text().replace("# written", "")
        assert stat.S_IMODE(Path(f"{data}.password").stat().st_mode) == 0o600
    finally:
        subprocess.run(["bash", script, "stop", str(data)], check=False)
        if (data / "location").exists():
            shutil.rmtree((data / "location").read_text().strip(), ignore_errors=True)

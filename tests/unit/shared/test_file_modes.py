"""Files holding personal data are readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from shared.db import create_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_sqlite_database_and_its_journal_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new-dir" / "service.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('Alex Example')"))
        assert _mode(db) == 0o600
        assert _mode(db.parent) == 0o700
        journals = [p for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
        assert journals, "WAL mode should have made journal files"
        assert all(_mode(p) == 0o600 for p in journals)
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await engine.dispose()
    assert _mode(db) == 0o600


def test_the_checkout_secrets_and_state_are_owner_only() -> None:
    # `make test` runs `make setup` first, which writes or tightens both
    from shared.config import DATA_DIR, ENV_FILE

    assert _mode(ENV_FILE) == 0o600
    assert _mode(DATA_DIR) == 0o700

"""SQLite's commits are fsynced (`synchronous=FULL`) unless the bench asks for its
comparison (`MASH_SQLITE_SYNCHRONOUS=NORMAL`); turning them off is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import SYNCHRONOUS, create_engine, sqlite_synchronous


async def synchronous_of(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("PRAGMA synchronous"))).scalar_one())
    finally:
        await engine.dispose()


async def test_full_by_default_and_normal_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    monkeypatch.delenv(SYNCHRONOUS, raising=False)
    assert sqlite_synchronous() == "FULL"
    assert await synchronous_of(url) == 2
    monkeypatch.setenv(SYNCHRONOUS, "normal")
    assert await synchronous_of(url) == 1


@pytest.mark.parametrize("mode", ["OFF", "0", "1", "fast", "MEMORY"])
def test_anything_weaker_or_unknown_is_refused(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SYNCHRONOUS, mode)
    with pytest.raises(ValueError, match=SYNCHRONOUS):
        create_engine("sqlite+aiosqlite:///:memory:")

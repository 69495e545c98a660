"""A SQLite commit that wrote waits for its fsync on a commit thread, not on the event
loop: the loop serves others meanwhile, while the committing caller resumes only once the
commit has returned (what follows a commit, a 202 or an offset commit, still follows it
on disk). A reader's commit, with nothing to sync, stays on the loop's thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import create_engine, session_factory, unit_of_work

REAL_CONNECT = sqlite3.connect


class Gate:
    """Holds every commit of a connection until opened, noting the thread it ran on."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.threads: list[str] = []
        self.closed = True


GATE = Gate()


class HeldCommits(sqlite3.Connection):
    def commit(self) -> None:
        GATE.threads.append(threading.current_thread().name)
        if not GATE.closed:
            GATE.entered.set()
            assert GATE.opened.wait(timeout=30)
        super().commit()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return REAL_CONNECT(*args, **kwargs, factory=HeldCommits)

    monkeypatch.setattr(sqlite3, "connect", connect)
    GATE.__init__()  # type: ignore[misc]
    yield GATE
    GATE.opened.set()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'commits.db'}"


async def rows(engine: Any) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT v FROM t"))).scalars().all())


async def test_the_loop_serves_others_while_a_commit_syncs_and_its_caller_waits(
    gate: Gate, url: str
) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        gate.threads.clear()
        gate.closed = False

        async def write() -> None:
            async with unit_of_work(sessions) as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('answered')"))

        writer = asyncio.create_task(write())
        assert await asyncio.to_thread(gate.entered.wait, 30)
        # the commit is held in its thread: the loop still runs a reader, which sees the
        # state before the commit, and the writer has not resumed
        assert await rows(engine) == []
        assert not writer.done()
        gate.opened.set()
        await writer
        assert await rows(engine) == ["answered"]
    finally:
        gate.opened.set()
        await engine.dispose()
    loop_thread = threading.current_thread().name
    writes = [name for name in gate.threads if name.startswith("sqlite-commit")]
    assert len(writes) == 1
    # the readers' commits (nothing written) ran on the loop's thread
    assert gate.threads.count(loop_thread) == len(gate.threads) - 1


async def test_a_cancelled_caller_leaves_only_once_the_commit_has_returned(
    gate: Gate, url: str
) -> None:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        gate.closed = False

        async def write() -> None:
            async with unit_of_work(sessions) as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('kept')"))

        writer = asyncio.create_task(write())
        assert await asyncio.to_thread(gate.entered.wait, 30)
        writer.cancel()
        for _ in range(20):  # the loop turns; the writer still waits for its commit
            await asyncio.sleep(0)
        assert not writer.done()
        gate.opened.set()
        with pytest.raises(asyncio.CancelledError):
            await writer
        gate.closed = True
        # the commit completed (its caller had gone): the row is there, the engine usable
        assert await rows(engine) == ["kept"]
        async with unit_of_work(sessions) as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('next')"))
        assert await rows(engine) == ["kept", "next"]
    finally:
        gate.opened.set()
        await engine.dispose()

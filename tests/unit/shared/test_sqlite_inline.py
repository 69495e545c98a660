"""SQLite statements run on the event loop's thread (no hop to a worker thread), and a
long run of them still lets the loop serve others (probes, metrics, requests)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import create_engine, session_factory, unit_of_work


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"


async def test_statements_run_on_the_loops_thread_and_commit(url: str) -> None:
    engine = create_engine(url)
    seen: list[str] = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None

            def whose() -> int:
                seen.append(threading.current_thread().name)
                return 1

            await driver.create_function("whose", 0, whose)
            await conn.execute(text("SELECT whose()"))
        sessions = session_factory(engine)
        async with unit_of_work(sessions) as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('kept')"))

        async def fails() -> None:
            async with unit_of_work(sessions) as session:
                await session.execute(text("INSERT INTO t (v) VALUES ('rolled back')"))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            await fails()
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT v FROM t"))).scalars().all()
    finally:
        await engine.dispose()
    assert seen == [threading.current_thread().name]
    assert rows == ["kept"]


async def test_a_long_transaction_lets_the_loop_serve_others(url: str) -> None:
    engine = create_engine(url)
    ticks = 0
    statements = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        running = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        async with unit_of_work(session_factory(engine)) as session:
            ticks_before = ticks
            loop = asyncio.get_running_loop()
            began = loop.time()
            while loop.time() - began < 0.2:  # 40 times the 5 ms after which it yields
                await session.execute(text("INSERT INTO t (v) VALUES ('x')"))
                statements += 1
            served = ticks - ticks_before
        running.cancel()
    finally:
        await engine.dispose()
    assert statements > 0
    assert served >= 10

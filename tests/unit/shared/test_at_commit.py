"""`shared.db.at_commit`: a write staged by a handler runs once, at the end of the unit of
work, inside its transaction; never when the block raised; never outside a unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import (
    SessionFactory,
    StagedWrite,
    at_commit,
    create_engine,
    session_factory,
    unit_of_work,
)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'staged.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (v TEXT)"))
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def rows(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(text("SELECT v FROM t ORDER BY rowid"))).scalars())


def writing(value: str) -> StagedWrite:
    async def write(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})

    return write


async def test_a_staged_write_runs_once_after_the_block_and_commits(
    sessions: SessionFactory,
) -> None:
    async with unit_of_work(sessions) as session:
        at_commit(session, "k", writing("staged"))
        at_commit(session, "k", writing("ignored: the key is staged"))
        await session.execute(text("INSERT INTO t (v) VALUES ('in the block')"))
        assert await rows(sessions) == []
    assert await rows(sessions) == ["in the block", "staged"]


async def test_a_write_may_stage_another_and_both_run(sessions: SessionFactory) -> None:
    async def first(session: AsyncSession) -> None:
        at_commit(session, "second", writing("second"))
        await session.execute(text("INSERT INTO t (v) VALUES ('first')"))

    async with unit_of_work(sessions) as session:
        at_commit(session, "first", first)
    assert await rows(sessions) == ["first", "second"]


async def test_nothing_staged_runs_when_the_block_raises(sessions: SessionFactory) -> None:
    async def failing_handler() -> None:
        async with unit_of_work(sessions) as session:
            at_commit(session, "k", writing("staged"))
            raise RuntimeError("a handler failed")

    with pytest.raises(RuntimeError, match="a handler failed"):
        await failing_handler()
    assert await rows(sessions) == []


async def test_a_failing_staged_write_rolls_the_transaction_back(
    sessions: SessionFactory,
) -> None:
    async def failing(session: AsyncSession) -> None:
        raise ValueError("poison found at commit")

    async def handler() -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(text("INSERT INTO t (v) VALUES ('in the block')"))
            at_commit(session, "k", failing)

    with pytest.raises(ValueError, match="poison"):
        await handler()
    assert await rows(sessions) == []


async def test_outside_a_unit_of_work_staging_is_refused(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(RuntimeError, match="unit_of_work"):
            at_commit(session, "k", writing("lost"))

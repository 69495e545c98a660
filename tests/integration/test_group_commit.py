"""Group commit: concurrent works share a transaction, each caller answered after it commits,
and a failing work fails only its own caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.group_commit import GroupCommit
from tests.integration.kit import Kit, effects


class Counted:
    """The platform's unit of work, counting the transactions it opens."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.transactions = 0

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[AsyncSession]:
        self.transactions += 1
        async with self.kit.platform.uow() as session:
            yield session


def inserting(
    subject: str, n: int, fails: bool = False
) -> Callable[[AsyncSession], Coroutine[Any, Any, int]]:
    async def insert(session: AsyncSession) -> int:
        if fails:
            raise ValueError("this one is wrong")
        await session.execute(
            effects.insert().values(event_id=f"e{n}", subject=subject, at=datetime.now(UTC))
        )
        return n

    return insert


async def visible(kit: Kit, subject: str, n: int) -> int:
    async with kit.platform.sessions() as session:
        seen = await session.execute(
            select(func.count())
            .select_from(effects)
            .where(effects.c.subject == subject, effects.c.event_id == f"e{n}")
        )
        return int(seen.scalar_one())


async def test_concurrent_works_share_transactions_each_answered_after_its_commit(
    database_url: str,
) -> None:
    kit = Kit("127.0.0.1:1", database_url, "unused")  # storage only: no broker needed
    await kit.platform.start_storage()
    counted = Counted(kit)
    group = GroupCommit(counted.uow)
    subject = str(uuid.uuid4())

    async def report(n: int) -> tuple[int, int]:
        result = await group.run(inserting(subject, n))
        return result, await visible(kit, subject, n)  # committed before the answer

    try:
        outcomes = await asyncio.gather(*(report(n) for n in range(20)))
        assert outcomes == [(n, 1) for n in range(20)]
        assert await kit.effect_count(subject) == 20
        assert counted.transactions < 20  # they shared
    finally:
        await kit.platform.stop()


async def test_a_failing_work_fails_its_own_caller_and_the_others_commit_once(
    database_url: str,
) -> None:
    kit = Kit("127.0.0.1:1", database_url, "unused")
    await kit.platform.start_storage()
    group = GroupCommit(kit.platform.uow)
    subject = str(uuid.uuid4())
    try:
        outcomes: list[object] = await asyncio.gather(
            *(group.run(inserting(subject, n, fails=n == 7)) for n in range(20)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[7], ValueError)
        assert outcomes[:7] + outcomes[8:] == [n for n in range(20) if n != 7]
        assert await kit.effect_count(subject) == 19
        assert [await visible(kit, subject, n) for n in range(20)] == [
            0 if n == 7 else 1 for n in range(20)
        ]
    finally:
        await kit.platform.stop()

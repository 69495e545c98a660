"""Group commit with a fake unit of work: who shares a transaction, and who fails alone."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from shared.group_commit import GroupCommit

REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


class FakeStore:
    """Transactions as lists: what each committed transaction held, in order."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.rolled_back = 0

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[list[str]]:
        session: list[str] = []
        try:
            yield session
        except BaseException:
            self.rolled_back += 1
            raise
        self.committed.append(session)


def writes(name: str, fail: bool = False) -> Any:
    async def work(session: list[str]) -> str:
        await asyncio.sleep(0)
        if fail:
            raise ValueError(name)
        session.append(name)
        return f"{name}:{REQUEST.get()}"

    return work


async def request(group: GroupCommit, name: str, fail: bool = False) -> str:
    REQUEST.set(name)
    return await group.run(writes(name, fail))


async def test_requests_that_arrive_together_share_one_transaction() -> None:
    store = FakeStore()
    group = GroupCommit(store.uow)
    results = await asyncio.gather(*(request(group, f"r{i}") for i in range(5)))
    # each work ran in its own caller's context, not the first caller's
    assert results == [f"r{i}:r{i}" for i in range(5)]
    assert store.committed == [["r0", "r1", "r2", "r3", "r4"]]


async def test_one_failing_work_fails_its_own_request_only() -> None:
    store = FakeStore()
    group = GroupCommit(store.uow)
    results = await asyncio.gather(
        request(group, "a"),
        request(group, "b"),
        request(group, "bad", fail=True),
        request(group, "c"),
        return_exceptions=True,
    )
    assert results[0] == "a:a"
    assert [results[1], results[3]] == ["b:b", "c:c"]
    assert isinstance(results[2], ValueError)
    # the shared transaction rolled back, then each ran alone: nothing committed twice
    assert sorted(n for t in store.committed for n in t) == ["a", "b", "c"]
    assert store.rolled_back == 2


async def test_a_group_never_exceeds_its_maximum() -> None:
    store = FakeStore()
    group = GroupCommit(store.uow, max_group=2)
    await asyncio.gather(*(request(group, f"r{i}") for i in range(6)))
    assert [len(t) for t in store.committed] == [2, 2, 2]

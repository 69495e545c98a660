"""`shared.db.hold` on PostgreSQL: two writers about one person take turns, and when two
transactions do wait on each other in a circle (two consumer batches holding several
events' names), the one PostgreSQL gives up is retried as an outage, never dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mash_tools.testing import create_database, eventually, waits_on_a_lock
from shared.db import create_engine, hold, session_factory, unit_of_work
from shared.kafka import is_transient

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(postgres_server: str) -> AsyncIterator[AsyncEngine]:
    found = create_engine(await create_database(postgres_server))  # no table: locks only
    yield found
    await found.dispose()


async def test_a_second_holder_of_a_name_waits_until_the_first_commits(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    order: list[str] = []

    async def second() -> None:
        async with unit_of_work(sessions) as session:
            await hold(session, ["person:b", "person:a"])
            order.append("second holds")

    async with unit_of_work(sessions) as session:
        await hold(session, ["person:a"])
        waiting = asyncio.create_task(second())
        await eventually(lambda: waits_on_a_lock(engine))
        order.append("first commits")
    await waiting
    assert order == ["first commits", "second holds"]


async def test_a_deadlock_between_two_batches_is_an_outage_to_retry(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    first_holds, second_holds = asyncio.Event(), asyncio.Event()

    async def batch(mine: str, theirs: str, holding: asyncio.Event, other: asyncio.Event) -> None:
        # each event of a batch holds its own names: together, out of one global order
        async with unit_of_work(sessions) as session:
            await hold(session, [mine])
            holding.set()
            await other.wait()
            await hold(session, [theirs])

    results = await asyncio.gather(
        batch("person:a", "person:b", first_holds, second_holds),
        batch("person:b", "person:a", second_holds, first_holds),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1, results  # PostgreSQL gave up one of the two, the other went on
    [deadlock] = failed
    assert isinstance(deadlock, DBAPIError)
    assert is_transient(deadlock)


async def test_a_name_held_already_in_the_transaction_is_not_taken_again(
    engine: AsyncEngine,
) -> None:
    """A batch's step holds its people, then each handler holds its own again: the second
    costs no statement while the transaction lasts, and the next transaction takes it anew;
    what a savepoint held is not remembered (its rollback lets go of it)."""
    taken: list[int] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "pg_advisory_xact_lock" in statement:
            taken.append(1)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    sessions = session_factory(engine)
    async with unit_of_work(sessions) as session:
        await hold(session, ["person:a", "person:b"])
        await hold(session, ["person:b", "person:a", "person:c"])
        assert len(taken) == 3
        async with session.begin_nested():
            await hold(session, ["person:d"])
        await hold(session, ["person:d"])
        assert len(taken) == 5
    async with unit_of_work(sessions) as session:
        await hold(session, ["person:a"])
    assert len(taken) == 6
